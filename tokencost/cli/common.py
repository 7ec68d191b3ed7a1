"""What several commands share: the pricing their options choose, run directories checked, tables printed."""

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokencost.pricing.priced_runs import Pricing


def pricing_from(args: argparse.Namespace) -> "Pricing":
    """The pricing the command's --preset, --assumptions, --set, the assumption flags (--years, ...), --api and
    --hardware choose."""
    from tokencost.pricing.assumptions import FLAGS, load_assumptions
    from tokencost.pricing.catalog import load_catalog
    from tokencost.pricing.priced_runs import Pricing

    catalog = load_catalog(args.hardware)
    flags = {flag: value for flag in FLAGS if (value := getattr(args, _dest(flag))) is not None}
    assumptions = load_assumptions(args.preset, args.assumptions, args.settings, flags, [e.key for e in catalog])
    return Pricing.of(assumptions, catalog, args.api)


def _dest(flag: str) -> str:
    """The attribute argparse keeps a flag's value in: --usd-per-kwh -> usd_per_kwh."""
    return flag.removeprefix("--").replace("-", "_")


def require_records(run_dirs: list[Path]) -> None:
    """Refuse a run directory that holds no records."""
    from bench.errors import UserError
    from bench.run.records import RECORDS_FILE, has_records

    for run_dir in run_dirs:
        if not has_records(run_dir):
            raise UserError(
                "RUN_DIR", f"{run_dir} has no {RECORDS_FILE}", "give a directory written by `tokencost run`"
            )


def read_run_records(run_dirs: list[Path]) -> list:
    from bench.run.records import read_records

    require_records(run_dirs)
    return [r for run_dir in run_dirs for r in priceable(read_records(run_dir), run_dir)]


def priceable(records: list, where) -> list:
    """The records, once every completed point has tokens to price: $/M divides by its input and output
    throughput, and a 0 there would surface as a bare "tokens per second: is 0" naming no file or point."""
    from bench.errors import UserError

    for r in records:
        if not r.ok:
            continue
        for field, value in (
            ("input_tokens", r.input_tokens),
            ("output_tokens", r.output_tokens),
            ("output_tok_s", r.output_tok_s),
        ):
            if not value > 0:
                raise UserError(
                    f"{where} {r.point} {field}",
                    f"is {value}",
                    "a completed point has tokens to price: fix the record, or leave the point out",
                )
    return records


def print_tables(priced, wide: bool = False) -> None:
    """The offline cost table (also when there is nothing at all to show), and the serving one if any: the
    compact columns that fit 120 terminal columns, with what every row shares and the methods stated once
    under them; every column with --wide."""
    from tokencost.publish.columns import console_tables

    print(console_tables(priced, wide))
