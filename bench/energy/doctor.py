"""What this machine can measure, and which energy method a run would use and why."""

from importlib import metadata

from bench.energy import gpus
from bench.energy.meters import NvmlMeter, make_meter, rapl_zones
from bench.errors import UserError


def diagnose() -> list[tuple[str, str]]:
    """(item, finding) lines, in the order a user checks a new machine."""
    lines = []
    try:
        pynvml = gpus.official_pynvml()
        lines.append(("nvidia-ml-py", f"{metadata.version('nvidia-ml-py')} (official NVIDIA bindings)"))
    except UserError as e:
        return [("nvidia-ml-py", str(e)), ("energy method", "cannot use NVML until the bindings are fixed")]
    try:
        pynvml.nvmlInit()
        lines.append(("NVML", f"driver {gpus.nvml_text(pynvml.nvmlSystemGetDriverVersion())}, "
                              f"NVML {gpus.nvml_text(pynvml.nvmlSystemGetNVMLVersion())}"))
    except pynvml.NVMLError as e:
        lines.append(("NVML", f"not available ({e}): no NVIDIA driver or GPU on this machine"))
    devices = gpus.all_gpus()
    lines.append(("GPUs found", str(len(devices))))
    for info in gpus.describe(devices):
        lines.append((f"GPU {info['nvml_index']}", f"{info['name']} {info['uuid']} bus {info['pci_bus_id']}, "
                                                   f"power limit {info['power_limit_w']} W"))
    try:
        serving = gpus.serving_gpus()
    except UserError as e:
        lines.append(("serving GPUs", str(e)))
        serving = []
    else:
        lines.append(("serving GPUs", ", ".join(d.uuid for d in serving) or "none"))
    if serving:
        meter = NvmlMeter(serving)
        lines.append(("energy counter", ", ".join(
            f"{d.uuid}: {'supported' if ok else 'NOT supported'}" for d, ok in zip(serving, meter.counter_supported))))
        meter.sampler.sample_once()
        for s in meter.sampler.samples:
            lines.append((f"power fields {s.gpu}", f"instant {s.power_instant_w} W, average {s.power_average_w} W "
                                                   f"({s.power_scope} scope)"))
        for what, error in meter.sampler.errors.items():
            lines.append((f"not readable: {what}", error))
    zones, why = rapl_zones()
    lines.append(("RAPL (CPU energy)", f"{len(zones)} package zone(s) readable" if zones else why))
    chosen = make_meter(serving)
    reason = {
        "nvml-counter": "NVIDIA GPUs with the energy counter serve the model",
        "nvml-sampled": "a serving GPU lacks the energy counter: sampled power is integrated",
        "rapl": "no NVIDIA GPU; RAPL counters are readable",
        "estimated": "no NVIDIA GPU and no readable RAPL: CPU energy is estimated from utilisation",
    }[chosen.method]
    lines.append(("energy method", f"{chosen.method} (boundary {chosen.boundary}): {reason}"))
    return lines
