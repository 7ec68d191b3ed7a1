"""Commands that touch this machine: `run` (measure, then price and report), `doctor`, `models`."""

import signal
import sys

from tokencost.cli.args import DEFAULT_RESULTS_DIR
from tokencost.cli.common import pricing_from
from tokencost.cli.publish import report_and_print


def cmd_run(args) -> int:
    """Measure a sweep. Every check comes before anything is printed, created or started: a refused run
    answers one line and leaves no trace (not even "Measuring into" or an empty run directory)."""
    from bench.energy.meters import DEFAULT_WATTS_PER_VCPU
    from bench.errors import UserError
    from bench.inputs.suite import load_suite
    from bench.offline import run_sweep
    from bench.run.records import RECORDS_FILE
    from bench.run.run import new_run_id
    from bench.run.run_dir import RunDirectory
    from bench.serve.sweep import run_serve_sweep

    workload = dict(isl=args.isl, osl=args.osl, requests_per_batch=args.requests_per_batch, kind=args.workload)
    kind_settings = {
        "shared_prefix": {"prefixes": args.prefixes, "prefix_len": args.prefix_len},
        "multi_turn": {"turns": args.turns},
        "trace": {"file": args.trace},
    }
    serve = dict(
        concurrencies=args.concurrency,
        request_rates=args.request_rates,
        endpoint=args.endpoint,
        endpoint_accelerator=args.endpoint_gpu,
        endpoint_accelerator_count=args.endpoint_gpus,
        slo_ttft_ms=args.slo_ttft_ms,
        slo_tpot_ms=args.slo_tpot_ms,
        repeats=args.repeats,
        capacity=args.capacity,
        capacity_load=args.capacity_load,
    )
    if args.endpoint or args.concurrency or args.request_rates or args.capacity:
        args.mode = args.mode or "serve"
    if any(v is not None for v in serve.values()) and args.mode == "offline":
        raise UserError("--mode", "is offline but serving options were given", "use --mode serve")
    if args.gpu_memory_gib is not None and not args.dry_run:
        raise UserError("--gpu-memory-gib", "only plans a dry run", "add --dry-run, or leave it out")
    if args.gpu_memory_gib is not None and args.gpu_memory_gib > 4096:
        raise UserError(
            "--gpu-memory-gib",
            f"is {args.gpu_memory_gib:g}, more than any one GPU has",
            "give one GPU's memory in GiB, e.g. 79.6 for an H100 or 140.4 for an H200",
        )
    if args.accelerators is not None and args.ray_address is None:
        raise UserError("--accelerators", "chooses the node types of a fleet sweep", "add --ray-address HOST:PORT")
    overrides = dict(
        models=args.models,
        batch_sizes=args.batch_sizes,
        engines=args.engines,
        mode=args.mode,
        min_window_s=args.min_window_s,
        accelerators=args.accelerators,
    )
    kind_values = [v for settings in kind_settings.values() for v in settings.values()]
    changed = args.suite is not None or any(
        v is not None for v in (*workload.values(), *overrides.values(), *serve.values(), *kind_values)
    )
    if args.resume and not changed:
        suite = RunDirectory(args.resume, resume=True).suite()  # the run's own settings; the sweep refuses others
    else:
        suite = _with_flags(load_suite(args.suite), serve=serve, kind_settings=kind_settings, **overrides, **workload)
    _check_kind_flags(args, suite.workload.kind)
    if args.trace:
        try:
            suite.workload.check_inputs()
        except UserError as e:
            raise e.with_field("--trace") from None
    suite.check()
    suite = _with_card_names(suite, "--models" if args.models else "models")
    pricing = pricing_from(args)  # checked before anything is measured
    _check_endpoint_gpu(suite, pricing)
    if args.ray_address is not None:
        from bench.fleet.cluster import check_address, import_ray

        check_address(args.ray_address)
        import_ray()
    if args.resume and not args.dry_run:
        RunDirectory(args.resume, resume=True).check_measured_by(fleet=args.ray_address is not None)
    if args.dry_run:
        from tokencost.cli.dry_run import dry_run

        return dry_run(suite, args.gpu_memory_gib)
    if args.resume:
        folder = RunDirectory(args.resume, resume=True)
        watts_per_vcpu = args.watts_per_vcpu or folder.watts_per_vcpu() or DEFAULT_WATTS_PER_VCPU
        header = f"Resuming {folder.path}"
    else:
        folder = RunDirectory(args.out or DEFAULT_RESULTS_DIR / new_run_id())
        watts_per_vcpu = args.watts_per_vcpu or DEFAULT_WATTS_PER_VCPU
        header = f"Measuring into {folder.path}"
    run_dir = folder.path
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    sweep = run_serve_sweep if suite.mode == "serve" else run_sweep
    if args.ray_address is not None:
        from functools import partial

        from bench.fleet.sweep import run_fleet

        sweep = partial(run_fleet, address=args.ray_address)
    try:
        # The sweep checks the run directory and this machine before it logs its first line.
        result = sweep(
            suite, run_dir, watts_per_vcpu=watts_per_vcpu, resume=bool(args.resume), log=_after_header(header)
        )
    except KeyboardInterrupt:
        if folder.wrote_records():
            report_and_print([run_dir], run_dir, pricing, args.wide)
        on_cluster = f" --ray-address {args.ray_address}" if args.ray_address else ""
        print(
            f"tokencost: interrupted; completed points are in {run_dir / RECORDS_FILE} "
            f"(finish them with: tokencost run --resume {run_dir}{on_cluster})",
            file=sys.stderr,
        )
        return 130
    except UserError:
        if folder.wrote_records():
            report_and_print([run_dir], run_dir, pricing, args.wide)  # price what was measured before the error
        folder.remove_if_untouched()  # a refused run leaves no empty run directory behind
        raise
    report_and_print([run_dir], run_dir, pricing, args.wide)
    if result.failures:
        print(f"\n{len(result.failures)} point(s) did not complete:", file=sys.stderr)
        for f in result.failures:
            print(f"  {f.point}: {f.status} ({f.failure}): {f.error}", file=sys.stderr)
    if result.start_errors:
        raise result.start_errors[0]
    return 1 if result.failures else 0


# Suite fields the command line sets, and their flags: an out-of-range flag is named as the user typed it.
FLAG_OF_FIELD = {
    "models": "--models",
    "batch_sizes": "--batch-sizes",
    "engines": "--engines",
    "mode": "--mode",
    "min_window_s": "--min-window-s",
    "workload.isl": "--isl",
    "workload.osl": "--osl",
    "workload.requests_per_batch": "--requests-per-batch",
    "serve.concurrencies": "--concurrency",
    "workload.kind": "--workload",
    "workload.shared_prefix.prefixes": "--prefixes",
    "workload.shared_prefix.prefix_len": "--prefix-len",
    "workload.multi_turn.turns": "--turns",
    "workload.trace.file": "--trace",
    "serve.request_rates": "--request-rates",
    "serve.endpoint": "--endpoint",
    "serve.endpoint_accelerator": "--endpoint-gpu",
    "serve.endpoint_accelerator_count": "--endpoint-gpus",
    "serve.slo_ttft_ms": "--slo-ttft-ms",
    "serve.slo_tpot_ms": "--slo-tpot-ms",
    "serve.repeats": "--repeats",
    "serve.capacity": "--capacity",
    "serve.capacity_load": "--capacity-load",
    "fleet.accelerators": "--accelerators",
}


def cmd_tiers(args) -> int:
    """The shipped service-level tiers: name, limits, what they stand for and where their figures come from."""
    from bench.inputs.tiers import shipped_tiers

    for name, tier in shipped_tiers().items():
        print(f"{name:<12} {tier.describe():<40} {tier.description}")
        print(f"{'':<12} source: {tier.source or 'tokencost, stated, not measured'}")
    return 0


# Flags that set one workload kind's settings, and that kind.
KIND_FLAGS = {"prefixes": "shared-prefix", "prefix_len": "shared-prefix", "turns": "multi-turn", "trace": "trace"}


def _check_kind_flags(args, kind: str) -> None:
    """A kind's flag given for a workload of another kind would be ignored: refuse it instead."""
    from bench.errors import UserError

    for name, wanted in KIND_FLAGS.items():
        if getattr(args, name) is not None and kind != wanted:
            flag = "--" + name.replace("_", "-")
            raise UserError(
                flag,
                f"sets the {wanted} workload, and this run's workload is {kind}",
                f"add --workload {wanted}, or leave {flag} out",
            )


def _with_flags(suite, **overrides):
    """The suite with the command line's values; a value out of the suite's bounds is named by its flag."""
    from bench.errors import UserError
    from bench.inputs.suite import with_overrides

    try:
        return with_overrides(suite, **overrides)
    except UserError as e:
        path = e.field.removeprefix("command line ")
        field = next((f for f in FLAG_OF_FIELD if path == f or path.startswith(f + ".")), None)
        if field is None:
            raise
        # The flag as typed, and the suite setting that takes the same value (and has the same bounds).
        raise e.with_field(FLAG_OF_FIELD[field], f"{e.fix} (suite setting {field})") from None


def _with_card_names(suite, field: str):
    """The suite naming each model by its card's name, resolved once: points and records are keyed by card name,
    so a card given as a folder path must not reach the sweep as that path. Also refuses a max_model_len
    beyond a card's context before any engine is asked for it."""
    from bench.errors import UserError
    from bench.inputs.cards import card_name, load_card

    names = tuple(card_name(m) for m in suite.models)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(field, f"names the card {twice[0]} more than once", "name each card once")
    max_len = suite.engine.max_model_len
    for name in names:
        context = load_card(name).max_context
        if max_len and context and max_len > context:
            raise UserError(
                "engine.max_model_len",
                f"is {max_len}, beyond {name}'s context of {context} tokens",
                f"give at most {context}, or leave it out to use the model's context",
            )
    return suite if names == suite.models else suite.model_copy(update={"models": names})


def _check_endpoint_gpu(suite, pricing) -> None:
    """A remote endpoint's GPU must be priceable, or its measured points could not be reported."""
    from bench.errors import UserError
    from tokencost.pricing.catalog import find_hardware

    gpu = suite.serve.endpoint_accelerator
    if suite.mode == "serve" and gpu:
        try:
            find_hardware(gpu, pricing.catalog)
        except UserError:
            raise UserError(
                "--endpoint-gpu",
                f"{gpu!r} is not in the hardware catalog",
                "give a catalog key such as h100-sxm (see tokencost/data/hardware.toml), "
                "or its figures with --hardware FILE",
            ) from None


def _after_header(header: str):
    """A log that prints `header` before its first line (the sweep logs once it has accepted the run)."""
    pending = [header]

    def log(line: str) -> None:
        while pending:
            print(pending.pop())
        print(line)

    return log


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def cmd_doctor(args) -> int:
    from bench.energy.doctor import diagnose, missing, render

    gpu_count = 1  # the engine's GPUs: tensor x pipeline x data parallel of the suite's [engine]
    if args.suite is not None:
        from bench.inputs.suite import load_suite

        gpu_count = load_suite(args.suite).engine.gpus
    findings = diagnose(gpu_count)
    for line in render(findings):
        print(line)
    if not args.require_gpu:
        return 0  # informational: a CPU machine is a valid place to run
    failed = missing(findings)
    for f in failed:
        print(f"MISSING: {f.item}: {f.text}")
    if not failed:
        print("GPU run: every requirement is met")
    return 1 if failed else 0


def cmd_models(args) -> int:
    """Every card, one line each; a card that cannot load is listed as broken with why, and the exit is 1."""
    from bench.errors import UserError
    from bench.inputs.cards import list_card_names, load_card

    print(f"{'card':<16} {'kind':<6} {'architecture':<22} {'total params':>14} {'active params':>14}  pairs with")
    broken = 0
    for name in list_card_names():
        try:
            card = load_card(name)
        except UserError as e:
            broken += 1
            print(f"{name:<16} BROKEN: {e}")
            continue
        print(
            f"{card.name:<16} {card.kind:<6} {card.architecture:<22} "
            f"{_human(card.params.total):>14} {_human(card.params.active):>14}  {card.pairs_with or ''}"
        )
    if broken:
        print(f"tokencost: {broken} model card(s) broken; runs cannot use them until fixed", file=sys.stderr)
    return 1 if broken else 0


def _human(count: int) -> str:
    return f"{count / 1e9:.2f} B" if count >= 1e9 else f"{count / 1e6:.2f} M"
