"""The `tokencost` command line.

Heavy modules (vLLM, torch, pandas) are imported inside the commands that use
them, so `tokencost --help` stays instant.
"""

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokencost", description="Measure what an LLM token costs to produce, and price it."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="measure a sweep with vLLM, then price and report it")
    run.add_argument("--suite", type=Path, help="suite TOML file (default: the embedded CPU demo suite)")
    run.add_argument("--models", type=_name_list, help="comma-separated model cards, e.g. tiny-dense,tiny-moe")
    run.add_argument("--batch-sizes", type=_int_list, help="comma-separated batch sizes, e.g. 1,4,16")
    run.add_argument("--isl", type=int, help="input (prompt) tokens per request")
    run.add_argument("--osl", type=int, help="output tokens per request")
    run.add_argument("--requests-per-batch", type=int, help="requests per point = batch size x this")
    run.add_argument("--out", type=Path, help=f"run directory (default: {DEFAULT_RESULTS_DIR}/<run-id>)")
    run.add_argument("--assumptions", type=Path, help="TOML file overriding the economic assumptions")
    run.add_argument("--watts-per-vcpu", type=float, help="CPU power per vCPU for the estimated meter")

    report = commands.add_parser("report", help="price a measured run and write its tables and plot")
    report.add_argument("run_dir", type=Path)
    report.add_argument("-o", "--out", type=Path, help="output directory (default: the run directory)")
    report.add_argument("--assumptions", type=Path, help="TOML file overriding the economic assumptions")

    commands.add_parser("models", help="list the model cards with their parameter counts")
    return parser


def cmd_run(args) -> int:
    from bench.power import DEFAULT_WATTS_PER_VCPU
    from bench.suite import load_suite, with_overrides
    from bench.sweep import new_run_id, run_sweep
    from tokencost.assumptions import load_assumptions

    suite = with_overrides(
        load_suite(args.suite),
        models=args.models,
        batch_sizes=args.batch_sizes,
        isl=args.isl,
        osl=args.osl,
        requests_per_batch=args.requests_per_batch,
    )
    assumptions = load_assumptions(args.assumptions)  # checked before anything is measured
    if args.watts_per_vcpu is not None and args.watts_per_vcpu <= 0:
        raise UserError("--watts-per-vcpu", f"is {args.watts_per_vcpu}", "give a positive number of watts")
    run_dir = args.out or DEFAULT_RESULTS_DIR / new_run_id()
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"Measuring into {run_dir}")
    try:
        run_sweep(suite, run_dir, watts_per_vcpu=args.watts_per_vcpu or DEFAULT_WATTS_PER_VCPU)
    except UserError:
        if (run_dir / "records.jsonl").exists():  # price what was measured before the error
            _report(run_dir, run_dir, assumptions)
        raise
    return _report(run_dir, run_dir, assumptions)


def cmd_report(args) -> int:
    from tokencost.assumptions import load_assumptions

    if not (args.run_dir / "records.jsonl").exists():
        raise UserError("RUN_DIR", f"{args.run_dir} has no records.jsonl", "give a directory written by `tokencost run`")
    return _report(args.run_dir, args.out or args.run_dir, load_assumptions(args.assumptions))


def _report(run_dir: Path, out_dir: Path, assumptions) -> int:
    from tokencost.report import OUTPUT_FILES, dense_vs_moe, markdown_table, write_report

    priced = write_report(run_dir, assumptions, out_dir)
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


COMMANDS = {"run": cmd_run, "report": cmd_report, "models": cmd_models}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"tokencost: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
