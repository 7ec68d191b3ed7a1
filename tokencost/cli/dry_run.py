"""`tokencost run --dry-run`: the plan of a run, and whether each point fits, before any engine starts."""

from dataclasses import dataclass

from bench.energy import gpus
from bench.errors import UserError
from bench.inputs import fit
from bench.inputs.cards import load_card
from bench.inputs.checkpoints import why_not_runnable
from bench.inputs.suite import Suite
from bench.offline import plan as offline_plan
from bench.run.run import context_of, pair_notes
from bench.serve.sweep import plan as serve_plan
from tokencost.pricing.catalog import HardwareEntry, find_hardware, load_catalog
from tokencost.pricing.precision import describe, support

GIB = 1024**3


@dataclass(frozen=True)
class PlannedGpu:
    """What the dry run knows of each engine GPU: its memory in bytes and its catalog entry, where known."""

    memory: int | None
    hardware: HardwareEntry | None


def dry_run(
    suite: Suite, gpu_memory_gib: float | None = None, print_line=print, gpu: HardwareEntry | None = None
) -> int:
    """Print the GPUs a run would use and each planned point's fit; 1 when some point would be skipped.

    `gpu` (a catalog entry) plans for that GPU: its memory unless `gpu_memory_gib` is given, and whether it
    runs each precision arm (a point it cannot run is skipped, one line saying why)."""
    suite.check()
    cards = {name: load_card(name) for name in suite.models}
    planned_gpu = _planned_gpu(suite, gpu_memory_gib, print_line, gpu)
    planned = serve_plan(suite) if suite.mode == "serve" else offline_plan(suite)
    if planned_gpu.hardware is None and suite.precisions != (suite.engine.precision,):
        print_line("precisions: not checked against the GPU (unknown here); give --gpu KEY to check them")
    skipped = 0
    for point in planned:
        card = cards[point.model]
        verdict = _verdict(suite, card, point, planned_gpu)
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


def _planned_gpu(suite: Suite, gpu_memory_gib: float | None, print_line, gpu: HardwareEntry | None) -> PlannedGpu:
    """Each engine GPU's memory and catalog entry: as given, else read from this machine's engine GPUs."""
    if suite.mode == "serve" and suite.serve.endpoint:
        print_line("GPUs: an existing endpoint serves the model; nothing here is started, so fit is not checked")
        return PlannedGpu(None, None)
    if gpu is not None:
        catalog_gib = gpu.get("memory_gb")  # the HBM size, binary: an "80 GB" H100 has 80 GiB
        gib = gpu_memory_gib if gpu_memory_gib is not None else catalog_gib
        where = "--gpu-memory-gib" if gpu_memory_gib is not None else "the catalog's"
        size = f", {gib:g} GiB each ({where})" if gib else ", memory unknown (give --gpu-memory-gib)"
        print_line(f"GPUs: {suite.engine.gpus} x {gpu.display_name} assumed (--gpu {gpu.key}){size}")
        return PlannedGpu(int(gib * GIB) if gib else None, gpu)
    if gpu_memory_gib is not None:
        print_line(f"GPUs: {suite.engine.gpus} assumed, {gpu_memory_gib:g} GiB each (--gpu-memory-gib)")
        return PlannedGpu(int(gpu_memory_gib * GIB), None)
    chosen = gpus.engine_gpus(suite.engine.gpus) if gpus.all_gpus() else gpus.GpuSet([], [])
    if not chosen.engine:
        print_line("GPUs: none (no NVIDIA GPU here); give --gpu KEY or --gpu-memory-gib to check fit for a GPU host")
        return PlannedGpu(None, None)
    memory = gpus.memory_bytes(chosen.engine)
    names = ", ".join(f"{d.name} {d.uuid}" for d in chosen.engine)
    size = f", {memory / GIB:.1f} GiB each" if memory else ""
    print_line(
        f"GPUs: the engine uses {len(chosen.engine)} ({names}{size}); "
        f"{len(chosen.idle)} more visible stay idle and are neither metered nor priced"
    )
    try:
        hardware: HardwareEntry | None = find_hardware(chosen.engine[0].name, load_catalog())
    except UserError:
        hardware = None  # a GPU the catalog lacks: its precisions are not checked
    return PlannedGpu(memory, hardware)


def _verdict(suite: Suite, card, point, planned_gpu: PlannedGpu) -> str:
    engine = point.fields["engine"]["name"]
    hardware, precision = planned_gpu.hardware, point.precision
    if hardware is not None and (why_not := support(hardware, precision).why_not):
        return f"SKIP: {why_not}"
    if reason := why_not_runnable(card, precision):
        return f"SKIP: {reason}"
    arm = "" if precision.is_default or hardware is None else f" [{describe(hardware, precision)}]"
    if engine != "vllm":
        return "runs (fit is estimated for vLLM only)"
    if planned_gpu.memory is None:
        return f"runs (fit not checked: GPU memory unknown){arm}"
    if point.in_flight is None:
        return f"runs (fit not checked: an uncapped request rate sets no number in flight){arm}"
    settings = suite.engine_for(precision)
    estimate = fit.estimate(card, settings, context_of(point.workload or suite.workload), planned_gpu.memory)
    per_replica = fit.in_flight_per_replica(point.in_flight, settings)
    reason = estimate.why_not(per_replica)
    return f"SKIP: {reason}" if reason else estimate.describe(per_replica) + arm
