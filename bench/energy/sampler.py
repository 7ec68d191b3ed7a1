"""A background sampler of GPU power, SM clock, temperature and clock-event reasons.

It feeds the timeline saved next to the records, cross-checks the energy
counter, and stands in for the counter where a GPU does not support it
(energy then integrates sampled power: method `nvml-sampled`).

Power comes from the instant-power field where a GPU has it; where it has not
(at GPU or module scope), from the 1 s average field, else from
nvmlDeviceGetPowerUsage. Each sample says which (`power_source`), so energy
integrated from averages is labelled as such.
"""

import json
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.energy.gpus import GpuDevice, official_pynvml

T = TypeVar("T")

DEFAULT_INTERVAL_S = 0.1
EVENT_REASONS = "nvmlDeviceGetCurrentClocksEventReasons"
OLD_EVENT_REASONS = "nvmlDeviceGetCurrentClocksThrottleReasons"  # the same, before NVML renamed it
UNSUPPORTED = "unsupported"  # a settled scope: the field is not supported at GPU or module scope
SOURCE_WORDS = {
    "instant": "instant power",
    "average-field": "1 s average power (NVML average field)",
    "power-usage": "average power from nvmlDeviceGetPowerUsage (1 s on Ampere and later)",
}


@dataclass(frozen=True)
class Sample:
    t: float  # time.perf_counter()
    gpu: str
    power_w: float | None  # the figure integrated into energy, read from `power_source`
    power_source: str | None  # "instant", "average-field", "power-usage"; None when power_w is None
    power_instant_w: float | None  # the instant-power field as read
    power_average_w: float | None  # the average-power field as read
    power_scope: str | None  # "gpu" or "module": the scope of the field power_w came from
    sm_clock_mhz: int | None
    temperature_c: int | None
    clock_event_reasons: int | None


@dataclass
class _PowerPlan:
    """How one GPU's power is read, settled by the first answers that are not transient errors."""

    scopes: dict[str, str | None] = field(
        default_factory=lambda: {"instant": None, "average": None}
    )  # "gpu", "module", UNSUPPORTED
    power_usage: bool | None = None  # nvmlDeviceGetPowerUsage works; asked only when both fields are unsupported


class PowerSampler:
    def __init__(self, devices: list[GpuDevice], interval_s: float = DEFAULT_INTERVAL_S):
        self.pynvml = official_pynvml()  # looked up once: each call reads package metadata
        self.devices = devices
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._times: list[float] = []  # samples' times, in the same order, for bisect
        self.errors: dict[str, str] = {}  # what could not be read, once per kind
        self._plans = {d.uuid: _PowerPlan() for d in devices}
        self._reasons_function = EVENT_REASONS
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
        now = time.perf_counter()
        batch = [self._sample(d, now) for d in self.devices]
        with self._lock:
            # Kept sorted by time even if two callers interleave; at the end (the usual case) this is an append.
            i = bisect_right(self._times, now)
            self.samples[i:i] = batch
            self._times[i:i] = [now] * len(batch)

    def _sample(self, device: GpuDevice, now: float) -> Sample:
        p, h = self.pynvml, device.handle
        power_w, source, scope, fields = self._power(device)
        return Sample(
            t=now,
            gpu=device.uuid,
            power_w=power_w,
            power_source=source,
            power_instant_w=fields.get("instant"),
            power_average_w=fields.get("average"),
            power_scope=scope,
            sm_clock_mhz=self._read("sm_clock", lambda: p.nvmlDeviceGetClockInfo(h, p.NVML_CLOCK_SM)),
            temperature_c=self._read("temperature", lambda: p.nvmlDeviceGetTemperature(h, p.NVML_TEMPERATURE_GPU)),
            clock_event_reasons=self._read("clock_event_reasons", lambda: self._clock_event_reasons(h)),
        )

    def _read(self, what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except self.pynvml.NVMLError as e:
            self.errors.setdefault(what, str(e))
            return None

    def _clock_event_reasons(self, handle: object) -> int:
        """Clock-event reasons; bindings or drivers from before the rename have only the ...ThrottleReasons name."""
        p = self.pynvml
        if self._reasons_function == EVENT_REASONS:
            try:
                if hasattr(p, EVENT_REASONS):
                    return int(getattr(p, EVENT_REASONS)(handle))
            except p.NVMLError_FunctionNotFound:
                pass
            self._reasons_function = OLD_EVENT_REASONS
        old = getattr(p, OLD_EVENT_REASONS, None)
        if old is None:
            raise p.NVMLError(p.NVML_ERROR_FUNCTION_NOT_FOUND)
        return int(old(handle))

    def _power(self, device: GpuDevice) -> tuple[float | None, str | None, str | None, dict[str, Any]]:
        """(power W, its source, its scope, the field readings) for one GPU at one instant."""
        plan = self._plans[device.uuid]
        fields = self._fields(device, plan)
        for name, source in (("instant", "instant"), ("average", "average-field")):
            scope = plan.scopes[name]
            if scope != UNSUPPORTED:
                # Unsettled, or a read that failed: no figure this time rather than one from another source.
                value = fields.get(name)
                return (value, source, scope, fields) if value is not None else (None, None, None, fields)
        watts = self._power_usage(device, plan)
        return watts, "power-usage" if watts is not None else None, None, fields

    def _fields(self, device: GpuDevice, plan: _PowerPlan) -> dict[str, float]:
        """Instant and average power fields (W) that could be read, each at its scope (both until settled)."""
        p = self.pynvml
        ids = {"instant": p.NVML_FI_DEV_POWER_INSTANT, "average": p.NVML_FI_DEV_POWER_AVERAGE}
        scope_ids = {"gpu": p.NVML_POWER_SCOPE_GPU, "module": p.NVML_POWER_SCOPE_MODULE}
        wanted = [
            (name, scope)
            for name, settled in plan.scopes.items()
            if settled != UNSUPPORTED
            for scope in ([settled] if settled else ["gpu", "module"])
        ]
        if not wanted:
            return {}
        try:
            values = p.nvmlDeviceGetFieldValues(device.handle, [(ids[n], scope_ids[s]) for n, s in wanted])
        except p.NVMLError as e:
            if e.value in (p.NVML_ERROR_NOT_SUPPORTED, p.NVML_ERROR_FUNCTION_NOT_FOUND):
                plan.scopes = {name: UNSUPPORTED for name in plan.scopes}  # no field values on this driver
            self.errors.setdefault("power_fields", str(e))
            return {}
        returns = {key: v.nvmlReturn for key, v in zip(wanted, values)}
        watts = {key: field_number(v) / 1000.0 for key, v in zip(wanted, values)}
        for name in plan.scopes:
            if plan.scopes[name] is None:
                self._settle(plan, name, returns[(name, "gpu")], returns[(name, "module")])
        read = {}
        for name, scope in plan.scopes.items():
            if scope is None:  # still unsettled: asked again next sample
                continue
            code = returns.get((name, scope))
            if code == p.NVML_SUCCESS:
                read[name] = watts[(name, scope)]
            elif code is not None:
                self.errors.setdefault(f"power_{name}", str(p.NVMLError(code)))
        return read

    def _settle(self, plan: _PowerPlan, name: str, gpu_code: int, module_code: int) -> None:
        """A field's scope: GPU when it works; module only when GPU is NOT_SUPPORTED and module works.

        Any other error (Unknown, a GPU busy resetting) leaves it unsettled, to be asked again next sample.
        """
        p = self.pynvml
        if gpu_code == p.NVML_SUCCESS:
            plan.scopes[name] = "gpu"
        elif gpu_code == p.NVML_ERROR_NOT_SUPPORTED and module_code == p.NVML_SUCCESS:
            plan.scopes[name] = "module"  # e.g. Grace Hopper reports the whole module only
            self.errors.setdefault("power_gpu_scope", "GPU-scope power not supported; using module scope")
        elif gpu_code == module_code == p.NVML_ERROR_NOT_SUPPORTED:
            plan.scopes[name] = UNSUPPORTED
            self.errors.setdefault(f"power_{name}_field", f"{name} power field not supported at GPU or module scope")
        else:
            transient = gpu_code if gpu_code != p.NVML_ERROR_NOT_SUPPORTED else module_code
            self.errors.setdefault(f"power_{name}", str(p.NVMLError(transient)))

    def _power_usage(self, device: GpuDevice, plan: _PowerPlan) -> float | None:
        """nvmlDeviceGetPowerUsage (mW), the last resort when neither power field is supported."""
        p = self.pynvml
        if plan.power_usage is False:
            return None
        try:
            watts: float = p.nvmlDeviceGetPowerUsage(device.handle) / 1000.0
        except p.NVMLError as e:
            if e.value == p.NVML_ERROR_NOT_SUPPORTED:
                plan.power_usage = False
            self.errors.setdefault("power_usage", str(e))
            return None
        plan.power_usage = True
        return watts

    def between(self, t0: float, t1: float) -> list[Sample]:
        with self._lock:
            return self.samples[bisect_left(self._times, t0) : bisect_right(self._times, t1)]

    def power_basis(self, t0: float, t1: float) -> str:
        """What the sampled power of [t0, t1] was, in words: instant power unless a GPU gave only an average."""
        sources = sorted({s.power_source for s in self.between(t0, t1) if s.power_source})
        return " and ".join(SOURCE_WORDS[s] for s in sources) or SOURCE_WORDS["instant"]

    def power_series(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """(time, power summed over GPUs) for each sampling instant with every GPU read."""
        by_time: dict[float, list[float | None]] = {}
        for s in self.between(t0, t1):
            by_time.setdefault(s.t, []).append(s.power_w)
        n = len(self.devices)
        return [
            (t, sum(w for w in ws if w is not None))
            for t, ws in sorted(by_time.items())
            if len(ws) == n and None not in ws
        ]

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


# nvmlValue_t's member for each nvmlValueType_t (nvml.h); power fields are documented as unsigned int mW.
VALUE_MEMBERS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")


def field_number(field: Any) -> float:
    """A field value as the number its valueType says it holds (uiVal when the type is unknown)."""
    kind = getattr(field, "valueType", 1)
    member = VALUE_MEMBERS[kind] if isinstance(kind, int) and 0 <= kind < len(VALUE_MEMBERS) else "uiVal"
    return float(getattr(field.value, member))
