"""`tokencost run --dry-run`: the plan of a run, and whether each point fits, before any engine starts."""

from bench.energy import gpus
from bench.errors import UserError
from bench.inputs import fit
from bench.inputs.cards import load_card
from bench.inputs.suite import Suite
from bench.offline import plan as offline_plan
from bench.run.run import context_of, pair_notes
from bench.serve.sweep import plan as serve_plan

GIB = 1024**3


def dry_run(suite: Suite, gpu_memory_gib: float | None = None, print_line=print) -> int:
    """Print the GPUs a run would use and each planned point's fit; 1 when some point would be skipped."""
    suite.check()
    cards = {name: load_card(name) for name in suite.models}
    memory = _gpu_memory(suite, gpu_memory_gib, print_line)
    planned = serve_plan(suite) if suite.mode == "serve" else offline_plan(suite)
    skipped = 0
    for point in planned:
        card = cards[point.model]
        verdict = _verdict(suite, card, point, memory)
        try:
            (point.workload or suite.workload).check_fits(suite.engine.max_model_len or card.max_context, card.name)
        except UserError as e:
            verdict = f"SKIP: {e}"
        skipped += verdict.startswith("SKIP")
        print_line(f"  {point.key}: {verdict}")
    for note in pair_notes(suite, cards.values()):
        print_line(note)
    print_line(f"{len(planned) - skipped} of {len(planned)} points would run; nothing was started or measured")
    return 1 if skipped else 0


def _gpu_memory(suite: Suite, gpu_memory_gib: float | None, print_line) -> int | None:
    """Each engine GPU's memory in bytes: as given, else read from this machine's engine GPUs."""
    if suite.mode == "serve" and suite.serve.endpoint:
        print_line("GPUs: an existing endpoint serves the model; nothing here is started, so fit is not checked")
        return None
    if gpu_memory_gib is not None:
        print_line(f"GPUs: {suite.engine.gpus} assumed, {gpu_memory_gib:g} GiB each (--gpu-memory-gib)")
        return int(gpu_memory_gib * GIB)
    chosen = gpus.engine_gpus(suite.engine.gpus) if gpus.all_gpus() else gpus.GpuSet([], [])
    if not chosen.engine:
        print_line("GPUs: none (no NVIDIA GPU here); give --gpu-memory-gib to check fit for a GPU host")
        return None
    memory = gpus.memory_bytes(chosen.engine)
    names = ", ".join(f"{d.name} {d.uuid}" for d in chosen.engine)
    size = f", {memory / GIB:.1f} GiB each" if memory else ""
    print_line(
        f"GPUs: the engine uses {len(chosen.engine)} ({names}{size}); "
        f"{len(chosen.idle)} more visible stay idle and are neither metered nor priced"
    )
    return memory


def _verdict(suite: Suite, card, point, memory: int | None) -> str:
    engine = point.fields["engine"]["name"]
    if engine != "vllm":
        return "runs (fit is estimated for vLLM only)"
    if memory is None:
        return "runs (fit not checked: GPU memory unknown)"
    if point.in_flight is None:
        return "runs (fit not checked: an uncapped request rate sets no number in flight)"
    estimate = fit.estimate(card, suite.engine, context_of(point.workload or suite.workload), memory)
    per_replica = fit.in_flight_per_replica(point.in_flight, suite.engine)
    reason = estimate.why_not(per_replica)
    return f"SKIP: {reason}" if reason else estimate.describe(per_replica)
