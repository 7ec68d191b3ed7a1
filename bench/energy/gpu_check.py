"""Check the energy meter on a real GPU: idle, then a short bf16 matmul load.

Needs torch with CUDA and nvidia-ml-py; vLLM is not needed. Prints, per
phase, the counter energy, the integrated sampled energy, their ratio,
average power and temperatures, and writes the same as JSON.

    python -m bench.energy.gpu_check [--seconds 20] [--json results/gpu-check.json]
"""

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import environment
from bench.energy import gpus
from bench.energy.meters import NvmlMeter


def _load(seconds: float) -> int:
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()  # window edges must see the GPU's work finished
        n += 20
    return n


def _phase(meter: NvmlMeter, name: str, seconds: float, work: Callable[[float], int | None]) -> dict[str, Any]:
    start = meter.snapshot()
    extra = work(seconds)
    end = meter.snapshot()
    reading = meter.reading(start, end)
    sampled = meter.sampler.energy_j(start.t, end.t)
    temps = [s.temperature_c for s in meter.samples(start.t, end.t) if s.temperature_c is not None]
    return {
        "phase": name,
        "seconds": round(reading.duration_s, 2),
        "method": reading.method,
        "counter_j": reading.energy_j,
        "sampled_j": sampled,
        "counter_over_sampled": reading.energy_j / sampled if reading.energy_j and sampled else None,
        "avg_power_w": reading.avg_power_w,
        "temperature_c": [min(temps, default=None), max(temps, default=None)],
        "flags": reading.flags,
        "matmuls": extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    environment.gpu_environment_defaults()  # cuda:0, where the load runs, is then the first GPU in bus order
    devices = gpus.engine_gpus(1).engine  # the GPU the load runs on, not every visible one
    if not devices:
        print("no NVIDIA GPU found: nothing to check (see `tokencost doctor`)")
        return 1
    meter = NvmlMeter(devices)
    meter.start()
    try:
        rows = [
            _phase(meter, "idle", args.seconds, lambda s: time.sleep(s)),
            _phase(meter, "bf16 matmul load", args.seconds, _load),
        ]
    finally:
        meter.stop()
    result = {
        "gpus": gpus.describe(devices),
        "meter": meter.describe(),
        "phases": rows,
        "sampler_errors": meter.sampler.errors,
    }
    print(f"{'phase':<18} {'s':>6} {'counter J':>10} {'sampled J':>10} {'ratio':>6} {'avg W':>7}  temp C")
    for r in rows:
        ratio = f"{r['counter_over_sampled']:.3f}" if r["counter_over_sampled"] else "n/a"
        print(
            f"{r['phase']:<18} {r['seconds']:>6} {r['counter_j'] or float('nan'):>10.1f} "
            f"{r['sampled_j'] or float('nan'):>10.1f} {ratio:>6} {r['avg_power_w'] or float('nan'):>7.1f}  "
            f"{r['temperature_c'][0]}-{r['temperature_c'][1]}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
