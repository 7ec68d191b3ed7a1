"""Validity checks recorded with every point: can this energy figure be trusted?"""

from bench.energy.meters import EnergyReading
from bench.energy.sampler import Sample

# Clock-event reason bits that mean the GPU slowed itself down (NVML nvmlClocksEventReason*).
THROTTLE_REASONS = {
    0x4: "sw-power-cap",
    0x8: "hw-slowdown",
    0x20: "sw-thermal-slowdown",
    0x40: "hw-thermal-slowdown",
    0x80: "hw-power-brake-slowdown",
}


def check(
    reading: EnergyReading,
    samples: list[Sample],
    *,
    idle_power_w: float | None,
    power_limit_w: float | None,
    min_window_s: float,
    other_processes: list[dict],
    extra: dict | None = None,
) -> dict:
    """Each check by name: ok (True/False/None when it cannot be judged) and the values behind it."""
    checks = {}
    power = reading.avg_power_w
    checks["window_length"] = {"ok": reading.duration_s >= min_window_s, "seconds": round(reading.duration_s, 3),
                               "minimum_s": min_window_s}
    floor = 0.5 * idle_power_w if idle_power_w else 0.0
    ceiling = 1.1 * power_limit_w if power_limit_w else None
    checks["power_in_range"] = {
        "ok": None if power is None or ceiling is None else floor <= power <= ceiling,
        "avg_power_w": power, "floor_w": floor, "ceiling_w": ceiling,
    }
    sampled = reading.sampled_avg_power_w
    agree = None
    if reading.method == "nvml-counter" and power and sampled:
        agree = abs(power - sampled) / power <= 0.10
    checks["counter_vs_sampled"] = {"ok": agree, "counter_w": power, "sampled_w": sampled, "tolerance": 0.10}
    temperatures = [s.temperature_c for s in samples if s.temperature_c is not None]
    checks["temperature_c"] = {"ok": None, "min": min(temperatures, default=None), "max": max(temperatures, default=None)}
    seen = set()
    for s in samples:
        for bit, name in THROTTLE_REASONS.items():
            if s.clock_event_reasons and s.clock_event_reasons & bit:
                seen.add(name)
    checks["throttling"] = {"ok": not seen if samples else None, "reasons": sorted(seen)}
    checks["other_processes"] = {"ok": not other_processes, "processes": other_processes}
    return checks | (extra or {})
