"""The `tokencost` command line.

Heavy modules (vLLM, torch, pandas) are imported inside the commands that use
them, so `tokencost --help` stays instant.
"""

import argparse
import signal
import sys
from pathlib import Path

from bench.errors import UserError

DEFAULT_RESULTS_DIR = Path("results") / "runs"


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive integers, e.g. 1,4,16")
    return values


def _name_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _add_pricing_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pricing")
    group.add_argument("--preset", help="economic preset (see `tokencost presets`; default: owned)")
    group.add_argument("--assumptions", type=Path, help="TOML file overriding any assumption of the preset")
    group.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="override one assumption, e.g. --set usd_per_kwh=0.12 (repeatable)")
    group.add_argument("--api", help="API to compare with (default: the preset's, gpt-4o-mini)")
    group.add_argument("--hardware", type=Path, help="TOML file with figures for hardware the catalog lacks")


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers, e.g. 0.5,2,8")
    return values


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("serving mode (--mode serve)")
    group.add_argument("--mode", choices=["offline", "serve"],
                       help="offline: batches through vLLM's engine (default); serve: requests to vLLM's "
                            "OpenAI-compatible server, with latencies and cost against interactivity")
    group.add_argument("--concurrency", type=_int_list, help="closed-loop concurrencies, e.g. 1,4,16,64")
    group.add_argument("--request-rates", type=_float_list, help="open-loop Poisson request rates per second, e.g. 1,4")
    group.add_argument("--endpoint", help="measure an OpenAI-compatible server already running at this URL "
                                          "(SGLang, TGI, TensorRT-LLM, vLLM) instead of starting vLLM")
    group.add_argument("--endpoint-gpu", help="a remote endpoint's GPU, for pricing (catalog key, e.g. h100-sxm)")
    group.add_argument("--endpoint-gpus", type=int, help="a remote endpoint's GPU count (default 1)")
    group.add_argument("--slo-ttft-ms", type=float, help="goodput SLO on time to first token (ms)")
    group.add_argument("--slo-tpot-ms", type=float, help="goodput SLO on time per output token (ms)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokencost", description="Measure what an LLM token costs to produce, and price it."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="measure a sweep with vLLM, then price and report it")
    run.add_argument("--suite", type=Path, help="suite TOML file (default: the embedded CPU demo suite)")
    run.add_argument("--models", type=_name_list, help="comma-separated model cards, e.g. tiny-dense,tiny-moe")
    run.add_argument("--batch-sizes", type=_int_list, help="comma-separated batch sizes, e.g. 1,4,16")
    run.add_argument("--engines", type=_name_list, help="comma-separated engines: vllm, transformers")
    run.add_argument("--isl", type=int, help="input (prompt) tokens per request")
    run.add_argument("--osl", type=int, help="output tokens per request")
    run.add_argument("--requests-per-batch", type=int, help="requests per point = batch size x this")
    run.add_argument("--out", type=Path, help=f"run directory (default: {DEFAULT_RESULTS_DIR}/<run-id>)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="finish the missing points of an interrupted run, with its settings")
    run.add_argument("--watts-per-vcpu", type=float, help="CPU power per vCPU for the estimated meter")
    _add_serve_options(run)
    _add_pricing_options(run)

    report = commands.add_parser("report", help="price measured runs; write their tables, plots and web page")
    report.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    report.add_argument("-o", "--out", type=Path, help="output directory (default: the run directory when one is "
                                                       f"given, else {DEFAULT_RESULTS_DIR}/report-<time>)")
    _add_pricing_options(report)

    price = commands.add_parser("price", help="re-price a measured run without re-measuring; print the table")
    price.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_JSON",
                       help="a run directory, or a `vllm bench serve --save-result` JSON file")
    price.add_argument("--csv", type=Path, help="also write the priced table to this CSV file")
    price.add_argument("--gpu", help="for a vllm bench file: the GPU that served it (catalog key, e.g. h100-sxm)")
    price.add_argument("--gpus", type=int, default=1, help="for a vllm bench file: GPUs serving (default 1)")
    price.add_argument("--watts", type=float, help="for a vllm bench file: measured power of all GPUs "
                                                   "(default: TDP, estimated)")
    _add_pricing_options(price)

    quote = commands.add_parser("quote", help="price one throughput figure, e.g. a number from a paper")
    quote.add_argument("--gpu", required=True, help="catalog key or GPU name, e.g. h100-sxm or 'NVIDIA H200'")
    quote.add_argument("--tok-s", type=float, required=True, help="tokens per second of the whole deployment")
    quote.add_argument("--gpus", type=int, default=1, help="GPUs serving (default 1)")
    quote.add_argument("--watts", type=float, help="measured power of all GPUs (default: TDP x GPUs, estimated)")
    quote.add_argument("--input-share", type=float,
                       help="share of time spent on input (prefill), to split input and output $/M")
    quote.add_argument("--input-tokens-share", type=float, default=0.5,
                       help="share of the tokens that are input, to split the throughput (default 0.5)")
    _add_pricing_options(quote)

    proj = commands.add_parser("project", help="project tok/s and $/M on hardware you do not have (labelled projected)")
    proj.add_argument("--model", required=True, help="model card, e.g. qwen3-30b-a3b")
    proj.add_argument("--gpu", required=True, help="catalog key or GPU name, e.g. h200")
    proj.add_argument("--gpus", type=int, default=1, help="GPUs serving the model (default 1)")
    proj.add_argument("--batch-sizes", type=_int_list, default=[1, 8, 32, 128])
    proj.add_argument("--isl", type=int, default=1024)
    proj.add_argument("--osl", type=int, default=1024)
    proj.add_argument("--efficiency", help="a run directory to take the measured efficiency from, or a fraction "
                                           "(default: 1.0, the bare ceiling)")
    proj.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    _add_pricing_options(proj)

    claims = commands.add_parser("claims", help="check common claims about token costs against measured runs")
    claims.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    claims.add_argument("-o", "--out", type=Path, help="also write claims.md into this directory")
    _add_pricing_options(claims)

    index = commands.add_parser("index", help="rewrite the README of the published runs and check their sizes")
    index.add_argument("results_dir", type=Path, nargs="?", default=Path("results"), metavar="RESULTS_DIR",
                       help="folder of published runs (default: results)")
    _add_pricing_options(index)

    compare = commands.add_parser("compare",
                                  help="CI gate: fail (exit 1) when NEW costs more or runs slower than BASELINE")
    compare.add_argument("baseline", type=Path, metavar="BASELINE",
                         help="a run directory, a directory of runs (repeats), a records.jsonl or a costs.csv")
    compare.add_argument("new", type=Path, metavar="NEW", help="the same, for the run to check")
    compare.add_argument("--max-regression", default="5%",
                         help="allowed rise in $/M tokens or fall in output tok/s, e.g. 5%% or 0.05 (default 5%%); "
                              "points measured several times get at least their noise band")
    compare.add_argument("--require-all", action="store_true",
                         help="also fail when a baseline point is missing from NEW")
    compare.add_argument("--json", type=Path, metavar="PATH",
                         help="write NEW's points as pytest-benchmark JSON (readable by `pytest-benchmark compare`)")
    _add_pricing_options(compare)

    commands.add_parser("models", help="list the model cards with their parameter counts")
    commands.add_parser("presets", help="list the economic presets")
    commands.add_parser("doctor", help="what this machine can measure, and the energy method a run would use")
    return parser


def _pricing(args):
    from tokencost.assumptions import load_assumptions
    from tokencost.catalog import load_catalog
    from tokencost.table import Pricing

    assumptions = load_assumptions(args.preset, args.assumptions, args.settings)
    return Pricing.of(assumptions, load_catalog(args.hardware), args.api)


def cmd_run(args) -> int:
    from bench.power import DEFAULT_WATTS_PER_VCPU
    from bench.serve_sweep import run_serve_sweep
    from bench.suite import load_suite, with_overrides
    from bench.sweep import new_run_id, run_sweep

    overrides = dict(models=args.models, batch_sizes=args.batch_sizes, engines=args.engines, isl=args.isl, osl=args.osl,
                     requests_per_batch=args.requests_per_batch)
    serve = dict(concurrencies=args.concurrency, request_rates=args.request_rates, endpoint=args.endpoint,
                 endpoint_accelerator=args.endpoint_gpu, endpoint_accelerator_count=args.endpoint_gpus,
                 slo_ttft_ms=args.slo_ttft_ms, slo_tpot_ms=args.slo_tpot_ms)
    if args.endpoint or args.concurrency or args.request_rates:
        args.mode = args.mode or "serve"
    if any(v is not None for v in serve.values()) and args.mode == "offline":
        raise UserError("--mode", "is offline but serving options were given", "use --mode serve")
    overrides |= dict(mode=args.mode, serve=serve)
    suite = with_overrides(load_suite(args.suite), **overrides)
    pricing = _pricing(args)  # checked before anything is measured
    if args.watts_per_vcpu is not None and args.watts_per_vcpu <= 0:
        raise UserError("--watts-per-vcpu", f"is {args.watts_per_vcpu}", "give a positive number of watts")
    watts_per_vcpu = args.watts_per_vcpu or DEFAULT_WATTS_PER_VCPU
    if args.resume:
        run_dir = args.resume
        changed = args.suite is not None or any(v is not None for k, v in overrides.items() if k != "serve") \
            or any(v is not None for v in serve.values())
        suite, watts_per_vcpu = _resumable(run_dir, suite if changed else None, args.watts_per_vcpu)
        print(f"Resuming {run_dir}")
    else:
        run_dir = args.out or DEFAULT_RESULTS_DIR / new_run_id()
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"Measuring into {run_dir}")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        sweep = run_serve_sweep if suite.mode == "serve" else run_sweep
        result = sweep(suite, run_dir, watts_per_vcpu=watts_per_vcpu, resume=bool(args.resume))
    except KeyboardInterrupt:
        _report_if_any(run_dir, pricing)
        print(f"tokencost: interrupted; completed points are in {run_dir / 'records.jsonl'} "
              f"(finish them with: tokencost run --resume {run_dir})", file=sys.stderr)
        return 130
    except UserError:
        _report_if_any(run_dir, pricing)  # price what was measured before the error
        raise
    _report([run_dir], run_dir, pricing)
    if result.failures:
        print(f"\n{len(result.failures)} point(s) did not complete:", file=sys.stderr)
        for f in result.failures:
            print(f"  {f['point']}: {f['status']} ({f['failure']}): {f['error']}", file=sys.stderr)
    if result.start_errors:
        raise result.start_errors[0]
    return 1 if result.failures else 0


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _report_if_any(run_dir: Path, pricing) -> None:
    if (run_dir / "records.jsonl").exists():
        _report([run_dir], run_dir, pricing)


def _resumable(run_dir: Path, requested, watts_per_vcpu):
    """The suite and meter setting of an interrupted run, if this machine and these settings may finish it."""
    import json

    from bench import environment, gpus
    from bench.suite import Suite
    from bench.sweep import hardware_fingerprint
    from bench.validation import parse

    try:
        run = json.loads((run_dir / "run.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        raise UserError("--resume", f"{run_dir} has no readable run.json", "give a directory written by `tokencost run`") from None
    suite = parse(Suite, run.get("suite"), f"{run_dir}/run.json suite")
    if requested is not None and requested != suite:
        differ = sorted(k for k, v in requested.model_dump().items() if suite.model_dump()[k] != v)
        raise UserError("--resume", f"the settings differ from the run's ({', '.join(differ)})",
                        "resume without --suite/--models/--batch-sizes/--isl/--osl, or start a new run")
    here = hardware_fingerprint(environment.hardware(gpus.describe(gpus.serving_gpus())))
    there = hardware_fingerprint(run.get("hardware", {}))
    if here != there:
        raise UserError("--resume", f"this machine ({here['accelerator']} x {here['accelerator_count']}) is not the "
                        f"run's ({there['accelerator']} x {there['accelerator_count']})",
                        "resume on the machine and GPUs that started the run")
    stored_watts = run.get("meter", {}).get("watts_per_vcpu")
    if watts_per_vcpu is not None and stored_watts is not None and watts_per_vcpu != stored_watts:
        raise UserError("--resume", f"--watts-per-vcpu {watts_per_vcpu} differs from the run's {stored_watts}",
                        "leave --watts-per-vcpu out when resuming")
    from bench.power import DEFAULT_WATTS_PER_VCPU

    return suite, stored_watts or watts_per_vcpu or DEFAULT_WATTS_PER_VCPU


def _require_records(run_dir: Path) -> None:
    if not (run_dir / "records.jsonl").exists():
        raise UserError("RUN_DIR", f"{run_dir} has no records.jsonl", "give a directory written by `tokencost run`")


def cmd_report(args) -> int:
    from datetime import datetime, timezone

    for run_dir in args.run_dirs:
        _require_records(run_dir)
    out_dir = args.out
    if out_dir is None and len(args.run_dirs) == 1:
        out_dir = args.run_dirs[0]
    elif out_dir is None:
        out_dir = DEFAULT_RESULTS_DIR / f"report-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
        print(f"No -o given: writing the report of {len(args.run_dirs)} runs to {out_dir}")
    return _report(args.run_dirs, out_dir, _pricing(args))


def _report(run_dirs: list[Path], out_dir: Path, pricing) -> int:
    from tokencost.html_page import PAGE_FILE
    from tokencost.report import NUMBER_FORMAT, dense_vs_moe, write_report

    report = write_report(run_dirs, pricing, out_dir)
    print()
    _print_tables(report.priced, report.serving)
    comparison = dense_vs_moe(report.priced)
    if not comparison.empty:
        print()
        print(comparison.to_markdown(index=False, floatfmt=NUMBER_FORMAT))
    print()
    print("Records: " + ", ".join(str(run_dir / "records.jsonl") for run_dir in run_dirs))
    print("Report:  " + ", ".join(str(path) for path in report.files if path.name != PAGE_FILE))
    print(f"Page: {out_dir / PAGE_FILE}")
    return 0


def _print_tables(priced, serving) -> None:
    """The offline cost table (also when there is nothing at all to show), and the serving one if any."""
    from tokencost.report import markdown_table
    from tokencost.serving import serve_markdown

    if not priced.empty or serving.empty:
        print(markdown_table(priced))
    if not serving.empty:
        print(serve_markdown(serving))


def cmd_price(args) -> int:
    from bench.records import read_records
    from tokencost.gate import merged
    from tokencost.serving import serve_table
    from tokencost.vllm_bench import is_vllm_bench_file, read_vllm_bench

    for name in ("gpus", "watts"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UserError(f"--{name}", f"is {getattr(args, name)}", "give a positive number")
    if is_vllm_bench_file(args.run_dir):
        records = [read_vllm_bench(args.run_dir, args.gpu, args.gpus, args.watts)]
    else:
        _require_records(args.run_dir)
        records = read_records(args.run_dir)
    pricing = _pricing(args)
    priced, serving = pricing.table(records), serve_table(records, pricing)
    _print_tables(priced, serving)
    print(f"\nPreset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}); compared with {pricing.api.key}.")
    if args.csv:
        merged(priced, serving).to_csv(args.csv, index=False)
        print(f"Table: {args.csv}")
    return 0


def cmd_quote(args) -> int:
    from tokencost.api_prices import blended_per_mtok
    from tokencost.catalog import find_hardware
    from tokencost.pricing import hourly_cost, token_prices

    for name in ("tok_s", "gpus", "watts"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name.replace('_', '-')}", f"is {value}", "give a positive number")
    for name in ("input_share", "input_tokens_share"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 1:
            raise UserError(f"--{name.replace('_', '-')}", f"is {value}", "give a share between 0 and 1")
    pricing = _pricing(args)
    hardware = find_hardware(args.gpu, pricing.catalog)
    watts = args.watts or args.gpus * hardware.tdp_w
    cost = hourly_cost(args.gpus, hardware, watts, pricing.assumptions)
    input_tok_s = args.tok_s * args.input_tokens_share
    prices = token_prices(cost.total, input_tok_s, args.tok_s - input_tok_s, args.input_share)
    api = blended_per_mtok(pricing.api, args.input_tokens_share, 1 - args.input_tokens_share)
    a = pricing.assumptions
    print(f"{args.gpus} x {hardware.display_name} at {args.tok_s:g} tok/s, "
          f"{watts:g} W ({'given' if args.watts else 'TDP, estimated'}), preset '{a.name}' ({a.ownership})")
    print(f"hourly cost per serving hour: ${cost.total:.4f}  "
          + "  ".join(f"{c} ${getattr(cost, c):.4f} ({s:.0%})" for c, s in cost.shares().items() if getattr(cost, c)))
    split = "split by time share" if args.input_share is not None else "whole hour charged to each (not split)"
    print(f"$/M tokens: {prices.total:.4f} total; {prices.input:.4f} input, {prices.output:.4f} output ({split})")
    print(f"{pricing.api.display_name} at this token mix: ${api:.4f}/M, so self-hosting costs {prices.total / api:.3g}x the API")
    return 0


def cmd_project(args) -> int:
    from tokencost.project import measured_efficiency, project

    for name in ("gpus", "isl", "osl"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name}", f"is {getattr(args, name)}", "give a positive integer")
    pricing = _pricing(args)
    if args.efficiency is None:
        efficiency, source = 1.0, "none given: the bare ceiling"
    elif Path(args.efficiency).is_dir():
        efficiency, source = measured_efficiency(Path(args.efficiency), pricing)
    else:
        try:
            efficiency, source = float(args.efficiency), "given on the command line"
        except ValueError:
            raise UserError("--efficiency", f"{args.efficiency!r} is neither a run directory nor a number",
                            "give a run directory or a fraction such as 0.4") from None
        if not 0 < efficiency <= 1:
            raise UserError("--efficiency", f"is {efficiency}", "give a fraction in (0, 1]")
    table = project(args.model, args.gpu, args.gpus, args.batch_sizes, args.isl, args.osl, efficiency, source, pricing)
    print(table.drop(columns=["label"]).to_markdown(index=False, floatfmt=".4g"))
    print(f"\nAll figures PROJECTED, not measured: {table['label'].iloc[0]}")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


def cmd_claims(args) -> int:
    from bench.records import read_records
    from tokencost.claims import check_claims, claims_markdown

    records = []
    for run_dir in args.run_dirs:
        _require_records(run_dir)
        records += read_records(run_dir)
    pricing = _pricing(args)
    table = check_claims(pricing.table(records), pricing)
    print(table[["claim", "verdict", "evidence"]].to_markdown(index=False))
    for projection in table["projection"][table["projection"] != ""]:
        print(f"\n{projection}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "claims.md").write_text(claims_markdown(table, [str(d) for d in args.run_dirs], pricing))
        print(f"\nClaims: {args.out / 'claims.md'}")
    return 0


def cmd_index(args) -> int:
    from tokencost.results_index import publication_problems, write_index

    if not args.results_dir.is_dir():
        raise UserError("RESULTS_DIR", f"{args.results_dir} is not a directory",
                        "give the folder of published runs, e.g. results")
    print(f"Index: {write_index(args.results_dir, _pricing(args))}")
    problems = publication_problems(args.results_dir)
    for problem in problems:
        print(f"tokencost: {args.results_dir}/{problem}", file=sys.stderr)
    if problems:
        print(f"tokencost: {len(problems)} file(s) in {args.results_dir} must not be published", file=sys.stderr)
    return 1 if problems else 0


def cmd_compare(args) -> int:
    from tokencost import gate
    from tokencost.benchmark_json import write_benchmark_json

    threshold = gate.parse_threshold(args.max_regression)
    pricing = _pricing(args)
    baseline, _ = gate.load_points(args.baseline, pricing, "BASELINE")
    new, new_records = gate.load_points(args.new, pricing, "NEW")
    diff = gate.compare(baseline, new, threshold)
    print(gate.diff_markdown(diff))
    n = gate.counts(diff)
    print(f"\n{args.new} against {args.baseline}, preset '{pricing.assumptions.name}', threshold {threshold:.1%}: "
          f"{n[gate.REGRESSION]} regressed, {n[gate.OK]} ok, {n[gate.IMPROVED]} improved, "
          f"{n[gate.ONLY_IN_BASELINE]} only in baseline, {n[gate.ONLY_IN_NEW]} only in new.")
    if args.json:
        write_benchmark_json(args.json, new, new_records)
        print(f"pytest-benchmark JSON: {args.json}")
    missing = n[gate.ONLY_IN_BASELINE] if args.require_all else 0
    if n[gate.REGRESSION] or missing:
        print(f"tokencost: gate failed: {n[gate.REGRESSION]} point(s) regressed"
              + (f", {missing} missing (--require-all)" if missing else ""), file=sys.stderr)
        return 1
    return 0


def cmd_doctor(args) -> int:
    from bench.doctor import diagnose

    lines = diagnose()
    width = max(len(item) for item, _ in lines)
    for item, finding in lines:
        print(f"{item:<{width}}  {finding}")
    return 0


def cmd_presets(args) -> int:
    from tokencost.assumptions import load_assumptions, preset_names

    for name in preset_names():
        a = load_assumptions(name)
        print(f"{name:<24} {a.ownership:<7} {a.description}")
    return 0


def cmd_models(args) -> int:
    from bench.cards import list_card_names, load_card

    print(f"{'card':<16} {'kind':<6} {'architecture':<22} {'total params':>14} {'active params':>14}  pairs with")
    for name in list_card_names():
        card = load_card(name)
        print(
            f"{card.name:<16} {card.kind:<6} {card.architecture:<22} "
            f"{_human(card.params.total):>14} {_human(card.params.active):>14}  {card.pairs_with or ''}"
        )
    return 0


def _human(count: int) -> str:
    return f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.2f} M"


COMMANDS = {
    "run": cmd_run, "report": cmd_report, "price": cmd_price, "quote": cmd_quote, "project": cmd_project,
    "models": cmd_models, "presets": cmd_presets, "doctor": cmd_doctor, "claims": cmd_claims,
    "compare": cmd_compare,
    "index": cmd_index,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"tokencost: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokencost: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
