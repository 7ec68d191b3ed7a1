"""A background sampler of GPU power, SM clock, temperature and clock-event reasons.

It feeds the timeline saved next to the records, cross-checks the energy
counter, and stands in for the counter where a GPU does not support it
(energy then integrates sampled instant power: method `nvml-sampled`).
"""

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.energy.gpus import GpuDevice, official_pynvml

DEFAULT_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Sample:
    t: float  # time.perf_counter()
    gpu: str
    power_instant_w: float | None
    power_average_w: float | None
    power_scope: str | None
    sm_clock_mhz: int | None
    temperature_c: int | None
    clock_event_reasons: int | None


class PowerSampler:
    def __init__(self, devices: list[GpuDevice], interval_s: float = DEFAULT_INTERVAL_S):
        self.devices = devices
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.errors: dict[str, str] = {}  # what could not be read, once per kind
        self._scopes = {d.uuid: "gpu" for d in devices}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="power-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample_once()
            if self._stop.wait(self.interval_s):
                return

    def sample_once(self) -> None:
        pynvml = official_pynvml()
        now = time.perf_counter()
        batch = [self._sample(pynvml, d, now) for d in self.devices]
        with self._lock:
            self.samples.extend(batch)

    def _sample(self, pynvml, device: GpuDevice, now: float) -> Sample:
        instant, average, scope = self._power(pynvml, device)
        return Sample(
            t=now,
            gpu=device.uuid,
            power_instant_w=instant,
            power_average_w=average,
            power_scope=scope,
            sm_clock_mhz=self._read("sm_clock", lambda: pynvml.nvmlDeviceGetClockInfo(device.handle, pynvml.NVML_CLOCK_SM)),
            temperature_c=self._read("temperature", lambda: pynvml.nvmlDeviceGetTemperature(device.handle, pynvml.NVML_TEMPERATURE_GPU)),
            clock_event_reasons=self._read("clock_event_reasons", lambda: pynvml.nvmlDeviceGetCurrentClocksEventReasons(device.handle)),
        )

    def _read(self, what: str, call):
        pynvml = official_pynvml()
        try:
            return call()
        except pynvml.NVMLError as e:
            self.errors.setdefault(what, str(e))
            return None

    def _power(self, pynvml, device: GpuDevice) -> tuple[float | None, float | None, str | None]:
        """Instant and 1 s average power (W) from field values, GPU scope, else module scope."""
        scope = self._scopes[device.uuid]
        scope_id = pynvml.NVML_POWER_SCOPE_GPU if scope == "gpu" else pynvml.NVML_POWER_SCOPE_MODULE
        fields = [(pynvml.NVML_FI_DEV_POWER_INSTANT, scope_id), (pynvml.NVML_FI_DEV_POWER_AVERAGE, scope_id)]
        try:
            values = pynvml.nvmlDeviceGetFieldValues(device.handle, fields)
        except pynvml.NVMLError as e:
            self.errors.setdefault("power_fields", str(e))
            return None, None, None
        readings = [v.value.uiVal / 1000.0 if v.nvmlReturn == pynvml.NVML_SUCCESS else None for v in values]
        if readings[0] is None and scope == "gpu":
            # Some modules (e.g. Grace Hopper) report power for the whole module only.
            self._scopes[device.uuid] = "module"
            self.errors.setdefault("power_gpu_scope", "GPU-scope power not supported; using module scope")
            return self._power(pynvml, device)
        return readings[0], readings[1], scope

    def between(self, t0: float, t1: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if t0 <= s.t <= t1]

    def power_series(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """(time, instant power summed over GPUs) for each sampling instant with every GPU read."""
        by_time: dict[float, list[float | None]] = {}
        for s in self.between(t0, t1):
            by_time.setdefault(s.t, []).append(s.power_instant_w)
        n = len(self.devices)
        return [(t, sum(ws)) for t, ws in sorted(by_time.items()) if len(ws) == n and None not in ws]

    def mean_power_w(self, t0: float, t1: float) -> float | None:
        series = self.power_series(t0, t1)
        return sum(w for _, w in series) / len(series) if series else None

    def energy_j(self, t0: float, t1: float) -> float | None:
        """Trapezoidal integral of sampled power over [t0, t1], the ends held at the nearest sample."""
        series = self.power_series(t0, t1)
        if len(series) < 2:
            return None
        points = [(t0, series[0][1]), *series, (t1, series[-1][1])]
        return sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(points, points[1:]))

    def save(self, path: Path, label: str, t0: float, t1: float) -> None:
        """Append the samples of [t0, t1] to a JSON-lines timeline, times relative to t0."""
        with Path(path).open("a") as f:
            for s in self.between(t0, t1):
                f.write(json.dumps({"point": label, **asdict(s), "t": round(s.t - t0, 4)}) + "\n")
