"""Commands that touch this machine: `run` (measure, then price and report), `doctor`, `models`."""

import signal
import sys

from tokencost.cli.args import DEFAULT_RESULTS_DIR
from tokencost.cli.common import pricing_from
from tokencost.cli.publish import report_and_print


def cmd_run(args) -> int:
    from bench.energy.meters import DEFAULT_WATTS_PER_VCPU
    from bench.errors import UserError
    from bench.inputs.suite import load_suite, with_overrides
    from bench.offline import run_sweep
    from bench.run.records import RECORDS_FILE
    from bench.run.run import new_run_id, run_suite, run_watts_per_vcpu
    from bench.serve.sweep import run_serve_sweep

    workload = dict(isl=args.isl, osl=args.osl, requests_per_batch=args.requests_per_batch)
    serve = dict(concurrencies=args.concurrency, request_rates=args.request_rates, endpoint=args.endpoint,
                 endpoint_accelerator=args.endpoint_gpu, endpoint_accelerator_count=args.endpoint_gpus,
                 slo_ttft_ms=args.slo_ttft_ms, slo_tpot_ms=args.slo_tpot_ms)
    if args.endpoint or args.concurrency or args.request_rates:
        args.mode = args.mode or "serve"
    if any(v is not None for v in serve.values()) and args.mode == "offline":
        raise UserError("--mode", "is offline but serving options were given", "use --mode serve")
    overrides = dict(models=args.models, batch_sizes=args.batch_sizes, engines=args.engines, mode=args.mode,
                     min_window_s=args.min_window_s)
    changed = args.suite is not None or any(v is not None for v in (*workload.values(), *overrides.values(),
                                                                     *serve.values()))
    if args.resume and not changed:
        suite = run_suite(args.resume)  # the run's own settings; the sweep refuses any other
    else:
        suite = with_overrides(load_suite(args.suite), serve=serve, **overrides, **workload)
    if args.gpu_memory_gib is not None and not args.dry_run:
        raise UserError("--gpu-memory-gib", "only plans a dry run", "add --dry-run, or leave it out")
    if args.gpu_memory_gib is not None and args.gpu_memory_gib > 4096:
        raise UserError("--gpu-memory-gib", f"is {args.gpu_memory_gib:g}, more than any one GPU has",
                        "give one GPU's memory in GiB, e.g. 79.6 for an H100 or 140.4 for an H200")
    if args.dry_run:
        from tokencost.cli.dry_run import dry_run

        return dry_run(suite, args.gpu_memory_gib)
    pricing = pricing_from(args)  # checked before anything is measured
    if args.resume:
        run_dir = args.resume
        watts_per_vcpu = args.watts_per_vcpu or run_watts_per_vcpu(run_dir) or DEFAULT_WATTS_PER_VCPU
        print(f"Resuming {run_dir}")
    else:
        run_dir = args.out or DEFAULT_RESULTS_DIR / new_run_id()
        watts_per_vcpu = args.watts_per_vcpu or DEFAULT_WATTS_PER_VCPU
        print(f"Measuring into {run_dir}")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    sweep = run_serve_sweep if suite.mode == "serve" else run_sweep
    records_before = _size(run_dir / RECORDS_FILE)
    try:
        result = sweep(suite, run_dir, watts_per_vcpu=watts_per_vcpu, resume=bool(args.resume))
    except KeyboardInterrupt:
        if _size(run_dir / RECORDS_FILE) > records_before:
            report_and_print([run_dir], run_dir, pricing)
        print(f"tokencost: interrupted; completed points are in {run_dir / RECORDS_FILE} "
              f"(finish them with: tokencost run --resume {run_dir})", file=sys.stderr)
        return 130
    except UserError:
        if _size(run_dir / RECORDS_FILE) > records_before:
            report_and_print([run_dir], run_dir, pricing)  # price what was measured before the error
        raise
    report_and_print([run_dir], run_dir, pricing)
    if result.failures:
        print(f"\n{len(result.failures)} point(s) did not complete:", file=sys.stderr)
        for f in result.failures:
            print(f"  {f.point}: {f.status} ({f.failure}): {f.error}", file=sys.stderr)
    if result.start_errors:
        raise result.start_errors[0]
    return 1 if result.failures else 0


def _size(path) -> int:
    """Bytes in a file, 0 if there is none: whether this run appended records (a refused run appends none,
    and its directory's report is left as it was)."""
    return path.stat().st_size if path.is_file() else 0


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
    from bench.inputs.cards import list_card_names, load_card

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
