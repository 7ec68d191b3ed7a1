"""Commands that touch this machine: `run` (measure, then price and report), `doctor`, `models`."""

import argparse
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from bench import console
from bench.errors import UserError
from tokencost.cli import json_output
from tokencost.cli.publish import report_and_print

if TYPE_CHECKING:
    from bench.inputs.cards import ModelCard
    from bench.run.run import SweepResult
    from bench.run.run_dir import RunDirectory
    from tokencost.cli.run_request import RunRequest


def cmd_run(args: argparse.Namespace) -> int:
    """Measure a sweep, then price and report it. Every check comes before anything is printed, created or
    started: a refused run answers one line and leaves no trace (not even "Measuring into" or an empty run
    directory)."""
    from tokencost.cli.run_request import RunRequest

    request = RunRequest.from_args(args)
    if request.dry_run:
        from tokencost.cli.dry_run import dry_run

        return dry_run(request.suite, request.gpu_memory_gib, gpu=request.dry_run_gpu)
    folder = request.directory()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        # The sweep checks the run directory and this machine before it logs its first line.
        with console.header_first(f"{'Resuming' if folder.resume else 'Measuring into'} {folder.path}"):
            result = request.measure(folder)
    except KeyboardInterrupt:
        if folder.wrote_records():
            _report(request, folder)
        if folder.wrote_records() or folder.resume:
            _print_interrupted(request, folder)
        else:  # nothing to resume: the new run leaves no empty folder and no hint that points are there
            folder.remove_if_untouched()
            print("tokencost: interrupted before any point was measured", file=sys.stderr)
        return 130
    except UserError:
        if folder.wrote_records():
            _report(request, folder)  # price what was measured before the error
        folder.remove_if_untouched()  # a refused run leaves no empty run directory behind
        raise
    _report(request, folder)
    return _outcome(result)


def _report(request: "RunRequest", folder: "RunDirectory") -> None:
    report_and_print([folder.path], folder.path, request.pricing, request.wide)


def _print_interrupted(request: "RunRequest", folder: "RunDirectory") -> None:
    from bench.run.records import RECORDS_FILE

    on_cluster = f" --ray-address {request.ray_address}" if request.ray_address else ""
    print(
        f"tokencost: interrupted; completed points are in {folder.path / RECORDS_FILE} "
        f"(finish them with: tokencost run --resume {folder.path}{on_cluster})",
        file=sys.stderr,
    )


def _outcome(result: "SweepResult") -> int:
    """The exit code of a finished sweep: 1 if a point did not complete (each named), 2 if an engine could not
    start."""
    if result.failures:
        print(f"\n{len(result.failures)} point(s) did not complete:", file=sys.stderr)
        for f in result.failures:
            print(f"  {f.point}: {f.status} ({f.failure}): {f.error}", file=sys.stderr)
    if result.start_errors:
        raise result.start_errors[0]
    return 1 if result.failures else 0


def cmd_tiers(args: argparse.Namespace) -> int:
    """The shipped service-level tiers: name, limits, what they stand for and where their figures come from."""
    from bench.inputs.tiers import shipped_tiers

    tiers = shipped_tiers()
    if args.json:
        json_output.emit("tiers", tiers=[{"name": name, **tier.model_dump()} for name, tier in tiers.items()])
        return 0
    for name, tier in tiers.items():
        print(f"{name:<12} {tier.describe():<40} {tier.description}")
        print(f"{'':<12} source: {tier.source or 'tokencost, stated, not measured'}")
    return 0


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cmd_doctor(args: argparse.Namespace) -> int:
    import dataclasses

    from bench.energy.doctor import diagnose, missing, render

    gpu_count = 1  # the engine's GPUs: tensor x pipeline x data parallel of the suite's [engine]
    if args.suite is not None:
        from bench.inputs.suite import load_suite

        gpu_count = load_suite(args.suite).engine.gpus
    findings = diagnose(gpu_count)
    failed = missing(findings)
    if args.json:
        json_output.emit(
            "doctor",
            gpu_count=gpu_count,
            findings=[dataclasses.asdict(f) for f in findings],
            gpu_run_ready=not failed,
            missing=[f.item for f in failed],
        )
        return 1 if args.require_gpu and failed else 0
    for line in render(findings):
        print(line)
    if not args.require_gpu:
        return 0  # informational: a CPU machine is a valid place to run
    for f in failed:
        print(f"MISSING: {f.item}: {f.text}")
    if not failed:
        print("GPU run: every requirement is met")
    return 1 if failed else 0


def cmd_models(args: argparse.Namespace) -> int:
    """Every card, one line each; a card that cannot load is listed as broken with why, and the exit is 1."""
    from bench.inputs.cards import list_card_names, load_card

    names = list_card_names()  # a models folder that cannot be read is refused before the header is printed
    cards: dict[str, ModelCard | UserError] = {}
    for name in names:
        try:
            cards[name] = load_card(name)
        except UserError as e:
            cards[name] = e
    broken = sum(isinstance(card, UserError) for card in cards.values())
    if args.json:
        json_output.emit("models", models=[_card_fields(name, card) for name, card in cards.items()])
    else:
        print(f"{'card':<16} {'kind':<6} {'architecture':<22} {'total params':>14} {'active params':>14}  pairs with")
        for name, card in cards.items():
            if isinstance(card, UserError):
                print(f"{name:<16} BROKEN: {card}")
                continue
            print(
                f"{card.name:<16} {card.kind:<6} {card.architecture:<22} "
                f"{_human(card.params.total):>14} {_human(card.params.active):>14}  {card.pairs_with or ''}"
            )
    if broken:
        print(f"tokencost: {broken} model card(s) broken; runs cannot use them until fixed", file=sys.stderr)
    return 1 if broken else 0


def _card_fields(name: str, card: "ModelCard | UserError") -> dict:
    """A card's line of `models --json`: its parameter counts, computed from its architecture; or why it is broken."""
    if isinstance(card, UserError):
        return {"name": name, "broken": str(card)}
    return {
        "name": card.name,
        "kind": card.kind,
        "architecture": card.architecture,
        "total_params": card.params.total,
        "active_params": card.params.active,
        "pairs_with": card.pairs_with,
        "broken": None,
    }


def _human(count: int) -> str:
    return f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.2f} M"
