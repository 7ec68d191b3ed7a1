"""Commands that write or judge published results: `report`, `index`, `compare`; and the tables they print."""

import sys
from pathlib import Path

from tokencost.cli import json_output
from tokencost.cli.args import DEFAULT_RESULTS_DIR
from tokencost.cli.common import pricing_from, print_tables, read_run_records


def report_and_print(run_dirs: list[Path], out_dir: Path, pricing, wide: bool = False) -> int:
    """Write the report of these runs into out_dir, and print its tables and where its files are."""
    from bench.run.records import RECORDS_FILE
    from tokencost.analysis.pairs import offline_moe_vs_dense
    from tokencost.publish.capacity_sections import capacity_console
    from tokencost.publish.columns import markdown_table
    from tokencost.publish.html_page import PAGE_FILE
    from tokencost.publish.write import write_report

    report = write_report(run_dirs, pricing, out_dir)
    print()
    print_tables(report.priced, wide)
    comparison = offline_moe_vs_dense(report.offline)
    if not comparison.empty:
        print()
        print(markdown_table(comparison) if wide else pairs_console(comparison))
    print(capacity_console(report), end="")  # nothing unless a run searched capacity
    print()
    for run_dir in run_dirs:
        print(f"Records: {run_dir / RECORDS_FILE}")
    files = [path for path in report.files if path.name != PAGE_FILE]
    plots = [path for path in files if path.suffix in (".png", ".svg")]
    named = ", ".join(path.name for path in files if path not in plots)
    print(f"Report:  {out_dir}/ ({named}{f' and {len(plots)} plot files' if plots else ''})")
    print(f"Page: {out_dir / PAGE_FILE}")
    return 0


def pairs_console(comparison) -> str:
    """The MoE vs dense table for a terminal: what every row shares is said once, under it."""
    from tokencost.publish.columns import console_table

    shared = [
        c
        for c in ("engine", "hardware", "MoE", "dense", "isl", "osl")
        if c in comparison and comparison[c].nunique(dropna=False) == 1
    ]
    note = "Every row: " + "; ".join(f"{c} {comparison[c].iloc[0]}" for c in shared) + "; " if shared else ""
    note += "$/M per input+output token."
    return "\n".join(line for line in (console_table(comparison.drop(columns=shared)), note) if line)


def cmd_report(args) -> int:
    """Price runs and write their report: into a new folder unless told where (-o DIR) or to replace the report
    `run` wrote into the run directory (--in-place), so a published run is never rewritten by accident. The
    last line printed is the folder the report is in."""
    from bench.errors import UserError

    if args.in_place and len(args.run_dirs) != 1:
        raise UserError(
            "--in-place",
            f"writes into one run directory, and {len(args.run_dirs)} were given",
            "give one RUN_DIR, or leave --in-place out to report them together in a new folder",
        )
    read_run_records(args.run_dirs)  # refuses a directory without records, or a point with nothing to price
    pricing = pricing_from(args)
    out_dir = args.run_dirs[0] if args.in_place else args.out
    if out_dir is None:
        runs = args.run_dirs[0].resolve().name if len(args.run_dirs) == 1 else f"{len(args.run_dirs)}-runs"
        out_dir = new_folder(f"{runs}-report-{pricing.assumptions.name}")
        print(
            f"Writing the report to a new folder, {out_dir}; the run directories stay as they are "
            "(--in-place writes into a run directory, -o DIR where you choose)"
        )
    report_and_print(args.run_dirs, out_dir, pricing, args.wide)
    print(out_dir)
    return 0


def new_folder(stem: str) -> Path:
    """A folder under results/runs that does not exist yet, named by `stem` (made fit for a file name) and the
    time: STEM-<time>, or STEM-<time>-2, -3... when that is taken."""
    import re
    from datetime import UTC, datetime

    name = re.sub(r"[^\w.+-]+", "-", stem).strip("-")
    base = DEFAULT_RESULTS_DIR / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    folder, n = base, 1
    while folder.exists() or folder.is_symlink():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def cmd_gpu_table(args) -> int:
    """Rebuild the GPU cost table from DIR's inputs.toml: into a new folder unless told where (-o DIR) or to
    rewrite DIR (--in-place), so the published table is never rewritten by accident. The last line printed is
    the folder the table is in."""
    from tokencost.publish.gpu_table import write

    out_dir = args.folder if args.in_place else args.out or new_folder("gpu-table")
    for path in write(args.folder, out_dir):
        print(f"Wrote {path}")
    if not args.in_place and args.out is None:
        print(f"A new folder: {args.folder} stays as it is (--in-place rewrites it, -o DIR writes where you choose)")
    print(out_dir)
    return 0


def cmd_index(args) -> int:
    from bench.errors import UserError
    from tokencost.publish.results_index import publication_problems, write_index

    if not args.results_dir.is_dir():
        raise UserError(
            "RESULTS_DIR", f"{args.results_dir} is not a directory", "give the folder of published runs, e.g. results"
        )
    print(f"Index: {write_index(args.results_dir, pricing_from(args))}")
    problems = publication_problems(args.results_dir)
    for problem in problems:
        print(f"tokencost: {args.results_dir}/{problem}", file=sys.stderr)
    if problems:
        print(f"tokencost: {len(problems)} file(s) in {args.results_dir} must not be published", file=sys.stderr)
    return 1 if problems else 0


def cmd_compare(args) -> int:
    import json

    from tokencost.gate import compare as gate
    from tokencost.gate.benchmark_json import benchmark_json

    pricing = pricing_from(args)
    baseline, _ = gate.load_points(args.baseline, pricing, "BASELINE")
    new, new_records = gate.load_points(args.new, pricing, "NEW")
    gate.refuse_projections(new, args.new, "NEW")
    diff = gate.compare(baseline, new, args.max_regression)
    n = gate.counts(diff)
    missing = n[gate.ONLY_IN_BASELINE] if args.require_all else 0
    if args.json:
        json_output.emit(
            "compare",
            baseline=args.baseline,
            new=args.new,
            **json_output.pricing_fields(pricing),
            max_regression=args.max_regression,
            require_all=args.require_all,
            passed=not (n[gate.REGRESSION] or missing),
            counts=n,
            points=json_output.rows(gate.with_key_values(diff)),
        )
    else:
        print(gate.diff_markdown(diff))
        print(
            f"\n{args.new} against {args.baseline}, preset '{pricing.assumptions.name}', "
            f"threshold {args.max_regression:.1%}: {n[gate.REGRESSION]} regressed, {n[gate.OK]} ok, "
            f"{n[gate.IMPROVED]} improved, {n[gate.ONLY_IN_BASELINE]} only in baseline, "
            f"{n[gate.ONLY_IN_NEW]} only in new."
        )
        for line in gate.projection_lines(diff):
            print(line)
    if args.benchmark_json:
        args.benchmark_json.parent.mkdir(parents=True, exist_ok=True)
        data = gate.with_verdicts(benchmark_json(new, new_records), diff)
        args.benchmark_json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"pytest-benchmark JSON: {args.benchmark_json}")  # on stderr with --json
    if n[gate.REGRESSION] or missing:
        print(
            f"tokencost: gate failed: {n[gate.REGRESSION]} point(s) regressed"
            + (f", {missing} missing (--require-all)" if missing else ""),
            file=sys.stderr,
        )
        return 1
    return 0
