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
    _add_pricing_options(run)

    report = commands.add_parser("report", help="price a measured run and write its tables and plots")
    report.add_argument("run_dir", type=Path)
    report.add_argument("-o", "--out", type=Path, help="output directory (default: the run directory)")
    _add_pricing_options(report)

    price = commands.add_parser("price", help="re-price a measured run without re-measuring; print the table")
    price.add_argument("run_dir", type=Path)
    price.add_argument("--csv", type=Path, help="also write the priced table to this CSV file")
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

    commands.add_parser("models", help="list the model cards with their parameter counts")
    commands.add_parser("presets", help="list the economic presets")
    commands.add_parser("doctor", help="what this machine can measure, and the energy method a run would use")
    return parser


def _pricing(args):
    from tokencost.assumptions import load_assumptions
    from tokencost.catalog import load_catalog
    from tokencost.report import Pricing

    assumptions = load_assumptions(args.preset, args.assumptions, args.settings)
    return Pricing.of(assumptions, load_catalog(args.hardware), args.api)


def cmd_run(args) -> int:
    from bench.power import DEFAULT_WATTS_PER_VCPU
    from bench.suite import load_suite, with_overrides
    from bench.sweep import new_run_id, run_sweep

    overrides = dict(models=args.models, batch_sizes=args.batch_sizes, engines=args.engines, isl=args.isl, osl=args.osl,
                     requests_per_batch=args.requests_per_batch)
    suite = with_overrides(load_suite(args.suite), **overrides)
    pricing = _pricing(args)  # checked before anything is measured
    if args.watts_per_vcpu is not None and args.watts_per_vcpu <= 0:
        raise UserError("--watts-per-vcpu", f"is {args.watts_per_vcpu}", "give a positive number of watts")
    watts_per_vcpu = args.watts_per_vcpu or DEFAULT_WATTS_PER_VCPU
    if args.resume:
        run_dir = args.resume
        changed = args.suite is not None or any(v is not None for v in overrides.values())
        suite, watts_per_vcpu = _resumable(run_dir, suite if changed else None, args.watts_per_vcpu)
        print(f"Resuming {run_dir}")
    else:
        run_dir = args.out or DEFAULT_RESULTS_DIR / new_run_id()
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"Measuring into {run_dir}")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        result = run_sweep(suite, run_dir, watts_per_vcpu=watts_per_vcpu, resume=bool(args.resume))
    except KeyboardInterrupt:
        _report_if_any(run_dir, pricing)
        print(f"tokencost: interrupted; completed points are in {run_dir / 'records.jsonl'} "
              f"(finish them with: tokencost run --resume {run_dir})", file=sys.stderr)
        return 130
    except UserError:
        _report_if_any(run_dir, pricing)  # price what was measured before the error
        raise
    _report(run_dir, run_dir, pricing)
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
        _report(run_dir, run_dir, pricing)


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
    _require_records(args.run_dir)
    return _report(args.run_dir, args.out or args.run_dir, _pricing(args))


def _report(run_dir: Path, out_dir: Path, pricing) -> int:
    from tokencost.report import OUTPUT_FILES, dense_vs_moe, markdown_table, write_report

    priced = write_report(run_dir, pricing, out_dir)
    print()
    print(markdown_table(priced))
    comparison = dense_vs_moe(priced)
    if not comparison.empty:
        print()
        print(comparison.to_markdown(index=False, floatfmt=".4g"))
    print()
    print(f"Records: {run_dir / 'records.jsonl'}")
    print("Report:  " + ", ".join(str(out_dir / name) for name in OUTPUT_FILES))
    return 0


def cmd_price(args) -> int:
    from bench.records import read_records
    from tokencost.report import markdown_table

    _require_records(args.run_dir)
    pricing = _pricing(args)
    priced = pricing.table(read_records(args.run_dir))
    print(markdown_table(priced))
    print(f"\nPreset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}); compared with {pricing.api.key}.")
    if args.csv:
        priced.to_csv(args.csv, index=False)
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
