"""Validity checks recorded with every point: can this energy figure be trusted?"""

from typing import Any

from bench.energy.meters import EnergyReading
from bench.energy.processes import ProcessCheck
from bench.energy.sampler import Sample

# Clock-event reason bits that mean the GPU slowed itself down (NVML nvmlClocksEventReason*).
THROTTLE_REASONS = {
    0x4: "sw-power-cap",
    0x8: "hw-slowdown",
    0x20: "sw-thermal-slowdown",
    0x40: "hw-thermal-slowdown",
    0x80: "hw-power-brake-slowdown",
}
# Recorded but never a failure on its own: a GPU at its power limit (normal for an H100 at high batch)
# is measured as it runs; the slowdowns forced by heat or a power brake are not how it normally runs.
INFORMATIONAL = {"sw-power-cap"}
# HW slowdown fails a point only above this share of its samples: nvml.h documents the bit as "May be also
# reported during PState or clock change", so a single 100 ms sample at a clock change is no slowdown.
SHARE_TO_FAIL = {"hw-slowdown": 0.05}


def check(
    reading: EnergyReading,
    samples: list[Sample],
    *,
    idle_power_w: float | None,
    power_limit_w: float | None,
    min_window_s: float,
    other_processes: ProcessCheck | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Each check by name: ok (True/False/None when it cannot be judged) and the values behind it.

    `other_processes` None: nothing here to check (no GPU measured on this machine): ok, as before.
    """
    checks: dict[str, dict[str, Any]] = {}
    power = reading.avg_power_w
    checks["window_length"] = {
        "ok": reading.duration_s >= min_window_s,
        "seconds": round(reading.duration_s, 3),
        "minimum_s": min_window_s,
    }
    floor = 0.5 * idle_power_w if idle_power_w else 0.0
    ceiling = 1.1 * power_limit_w if power_limit_w else None
    checks["power_in_range"] = {
        "ok": None if power is None or ceiling is None else floor <= power <= ceiling,
        "avg_power_w": power,
        "floor_w": floor,
        "ceiling_w": ceiling,
    }
    sampled = reading.sampled_avg_power_w
    agree = None
    if reading.method == "nvml-counter" and power and sampled:
        agree = abs(power - sampled) / power <= 0.10
    checks["counter_vs_sampled"] = {"ok": agree, "counter_w": power, "sampled_w": sampled, "tolerance": 0.10}
    temperatures = [s.temperature_c for s in samples if s.temperature_c is not None]
    checks["temperature_c"] = {
        "ok": None,
        "min": min(temperatures, default=None),
        "max": max(temperatures, default=None),
    }
    checks["throttling"] = throttling(samples)
    checks["other_processes"] = (other_processes or ProcessCheck(True)).as_check()
    return checks | (extra or {})


def throttling(samples: list[Sample]) -> dict[str, Any]:
    """Which clock-event reasons were seen, in what share of samples (one per GPU per instant) that read them."""
    read = [s.clock_event_reasons for s in samples if s.clock_event_reasons is not None]
    if not read:
        why = "no sample could read clock-event reasons" if samples else "no power samples in the window"
        return {"ok": None, "reasons": [], "fractions": {}, "samples_read": 0, "note": why}
    fractions = {}
    for bit, name in THROTTLE_REASONS.items():
        share = sum(1 for r in read if r & bit) / len(read)
        if share:
            fractions[name] = round(share, 4)
    reasons = sorted(fractions)
    failing = {r for r in reasons if r not in INFORMATIONAL and fractions[r] > SHARE_TO_FAIL.get(r, 0.0)}
    return {
        "ok": not failing,
        "reasons": reasons,
        "fractions": fractions,
        "samples_read": len(read),
        "note": None,
    }
