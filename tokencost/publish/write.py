"""A report of one or more runs: read the records, price them, build the sections, write every file."""

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench import console
from bench.errors import UserError
from bench.run.record import PointRecord
from bench.run.records import read_records
from bench.serve.capacity import read_outcomes
from tokencost.analysis.pairs import cheapest
from tokencost.pricing.priced_runs import PricedRuns, Pricing
from tokencost.publish import figures, provenance
from tokencost.publish.answer import answer_lines
from tokencost.publish.document import Methods, Report, number
from tokencost.publish.html_page import write_page
from tokencost.publish.markdown import report_markdown
from tokencost.publish.sections import SECTION_BUILDERS

REPORT_FILE = "report.md"
logger = logging.getLogger(__name__)


def read_runs(run_dirs: Sequence[Path]) -> list[PointRecord]:
    """The records of several runs; a run given twice is refused rather than counted twice."""
    records: list[PointRecord] = []
    seen: dict[str, Path] = {}
    for run_dir in run_dirs:
        run_records = read_records(run_dir)
        for run_id in dict.fromkeys(r.run_id for r in run_records):
            if run_id in seen:
                raise UserError("RUN_DIR", f"{run_dir} and {seen[run_id]} both hold run {run_id}", "give each run once")
            seen[run_id] = run_dir
        records += run_records
    return records


def read_capacity(run_dirs: Sequence[Path]) -> list[dict]:
    """The capacity searches of several runs (capacity.jsonl, where a run has one), each with `run_ids`: the runs
    whose records its run directory holds, which its points are keys of."""
    outcomes = []
    for run_dir in run_dirs:
        found = read_outcomes(run_dir)
        if found:
            run_ids = list(dict.fromkeys(r.run_id for r in read_records(run_dir)))
            outcomes += [outcome | {"run_ids": run_ids} for outcome in found]
    return outcomes


def cheapest_point(priced: PricedRuns, methods: Methods | None = None) -> str:
    """The cheapest offline point, or the cheapest serving point of a serving-only run, in words, with its method
    label, or its entry in `methods` (a report states each method once)."""
    serving_only = priced.offline.empty and not priced.serving.empty
    best = cheapest(priced.serving if serving_only else priced.offline)
    if best is None:
        return "none: no point was measured successfully"
    if serving_only:
        where = f" serving at {best['load']}, {number(best['interactivity'])} tok/s/user"
    else:
        where = f", batch {best['batch_size']}"
    lengths = f"ISL {best['isl']}/OSL {best['osl']}"
    if best.get("workload_kind", "random") != "random":
        lengths = f"{best['workload_label']} (mean {lengths})"
    return (
        f"${number(best['total_per_mtok_usd'])} per million tokens: {best['model']} ({best['kind']}), "
        f"{best['engine']}{where}, {lengths}, on {best['hardware']} "
        f"({methods.cite([best['label']]) if methods else best['label']})"
    )


def build_report(records: list[PointRecord], pricing: Pricing, capacity: Sequence[dict] = ()) -> Report:
    """The report of these records; `capacity`: the runs' capacity searches (read_capacity), if any."""
    a = pricing.assumptions
    priced = pricing.price(records)
    report = Report(
        records,
        priced,
        pricing,
        headline={
            "What": f"{provenance.models(records)} on {provenance.engines(records)}; {provenance.workloads(records)}",
            "Hardware": provenance.hardware(records),
            "When": provenance.dates(records),
            "Pricing": f"preset '{a.name}' ({a.ownership}; hash {a.hash})",
        },
        capacity=list(capacity),
    )
    # a point measured several times is priced at its median, not at its luckiest measurement
    report.cheapest = cheapest_point(PricedRuns(priced.offline, report.serving_points), report.methods)
    report.answer = answer_lines(report)
    for build in SECTION_BUILDERS:
        report.sections += build(report)
    return report


def write_report(run_dirs: Path | Sequence[Path], pricing: Pricing, out_dir: Path | None = None) -> Report:
    """Price the records of one or more runs; write the tables, report.md, the plots and index.html.

    The output directory defaults to the run directory when there is exactly one.
    """
    run_dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(d) for d in run_dirs]
    if out_dir is None and len(run_dirs) != 1:
        raise ValueError("a report of several runs needs an output directory")
    console.step(logger, f"report: reading the records of {len(run_dirs)} run(s)")
    records = read_runs(run_dirs)
    console.step(
        logger, f"report: pricing {len(records)} record(s) with preset '{pricing.assumptions.name}', building sections"
    )
    report = build_report(records, pricing, read_capacity(run_dirs))
    publish(report, Path(out_dir or run_dirs[0]))
    return report


def publish(report: Report, out_dir: Path) -> None:
    console.step(logger, f"report: writing the tables to {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    report.offline.to_csv(out_dir / "costs.csv", index=False)
    report.files = [out_dir / "costs.csv", _write_json(report.offline, out_dir / "costs.json")]
    for section in report.sections:
        for name, data in section.csv_files.items():
            data.to_csv(out_dir / name, index=False)
            report.files.append(out_dir / name)
    plots = [plot for section in report.sections for plot in section.plots]
    console.step(logger, f"report: drawing {len(plots)} plot(s), each as PNG and SVG")
    for plot in plots:
        report.files += figures.save(plot.figure, out_dir, plot.name)
    if not report.serving.empty:  # a serving run's points as serve_costs.csv has them (its costs.json has none)
        report.files.append(_write_json(report.serving, out_dir / "serve_costs.json"))
    console.step(logger, f"report: writing {REPORT_FILE} and the web page")
    (out_dir / REPORT_FILE).write_text(report_markdown(report))
    report.files += [out_dir / REPORT_FILE, write_page(report, out_dir)]


def _write_json(table: pd.DataFrame, path: Path) -> Path:
    table.to_json(path, orient="records", indent=1, double_precision=15)
    return path
