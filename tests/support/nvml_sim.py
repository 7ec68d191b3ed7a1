"""A simulated NVML at the `pynvml` function boundary, for machines without a GPU.

The real nvidia-ml-py is installed, so its constants, error classes and field
value structures are real; only the functions that would talk to the driver
are replaced, each by an autospec of the real function (so a call with the
wrong arguments fails as it would against the driver). Energy counters and
the meter's clock advance together from one fake clock, so expected joules
are exact.
"""

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

import pynvml


class FakeClock:
    """Stands in for time.perf_counter and time.sleep: time moves only when told."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class RealClock:
    perf_counter = staticmethod(time.perf_counter)
    sleep = staticmethod(time.sleep)

    @property
    def now(self) -> float:
        """On an instance: the real time, as FakeClock.now (CLOCK_MONOTONIC, the same in every process)."""
        return time.perf_counter()


@dataclass
class SimulatedGpu:
    index: int
    power_w: float = 300.0
    name: str = "NVIDIA H100 80GB HBM3"
    power_limit_w: float = 700.0
    counter_supported: bool = True
    gpu_scope_power: bool = True  # False: only module-scope power fields, as on Grace Hopper
    unsupported_fields: tuple = ()  # field ids NOT_SUPPORTED at both scopes, e.g. (NVML_FI_DEV_POWER_INSTANT,)
    power_usage_supported: bool = True  # nvmlDeviceGetPowerUsage
    event_reasons_function: bool = True  # False: the driver predates nvmlDeviceGetCurrentClocksEventReasons
    mig_enabled: bool = False
    temperature_c: int = 45
    sm_clock_mhz: int = 1980
    clock_event_reasons: int = 0
    processes: list = field(default_factory=list)
    fail_counter_after: float | None = None  # clock time after which the counter raises Unknown
    memory_mib: int = 81559  # an H100 80GB as nvidia-smi reports it (an H200: 143771)
    memory_used_mib: int = 0
    # NVML error codes returned once, by the next call only, keyed by a function name (the call raises),
    # a field id (its value at every scope asked in the next nvmlDeviceGetFieldValues) or (field id, scope id).
    fail_once: dict = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        """Realistic-looking and unique; the first group is `{index}a1e0000` for GPUs 0-9 (prefixes like GPU-3a1e)."""
        tail = hashlib.sha1(f"gpu{self.index}".encode()).hexdigest()
        return f"GPU-{self.index % 16:x}a1e{self.index // 16:04x}-{tail[:4]}-{tail[4:8]}-{tail[8:12]}-{tail[12:24]}"

    @property
    def pci_bus_id(self) -> str:
        return f"00000000:{0x18 + self.index:02X}:00.0"


def eight_gpu_node(**kw) -> list[SimulatedGpu]:
    """An 8-GPU node (an HGX H100 by default), GPUs 0..7 sharing the settings in `kw`."""
    return [SimulatedGpu(i, **kw) for i in range(8)]


def _error(code):
    return pynvml.NVMLError(code)  # NVMLError maps the code to its subclass, e.g. NVMLError_NotSupported


def _failing_once(name, function):
    """`function`, raising first the error a GPU argument holds for `name` in its fail_once."""

    def call(*args, **kwargs):
        gpu = next((a for a in args if isinstance(a, SimulatedGpu)), None)
        if gpu is not None and name in gpu.fail_once:
            raise _error(gpu.fail_once.pop(name))
        return function(*args, **kwargs)

    return call


class SimulatedNvml:
    def __init__(self, gpus: list[SimulatedGpu], clock: FakeClock, driver_loaded: bool = True):
        self.gpus = gpus
        self.clock = clock
        self.driver_loaded = driver_loaded

    def energy_mj(self, gpu: SimulatedGpu) -> int:
        return 7_000_000 + int(round(gpu.power_w * self.clock.now * 1000))

    def install(self, monkeypatch) -> None:
        by_uuid = {g.uuid: g for g in self.gpus}
        by_bus = {g.pci_bus_id: g for g in self.gpus}

        def init():
            if not self.driver_loaded:
                raise _error(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

        def by_index(i):
            if not 0 <= i < len(self.gpus):
                raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return self.gpus[i]

        def lookup(table, key):
            if key not in table:
                raise _error(pynvml.NVML_ERROR_NOT_FOUND)
            return table[key]

        def energy(h):
            if not h.counter_supported:
                raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            if h.fail_counter_after is not None and self.clock.now > h.fail_counter_after:
                raise _error(pynvml.NVML_ERROR_UNKNOWN)
            return self.energy_mj(h)

        def field_values(h, field_ids):
            values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
            keys = [*(tuple(f) for f in field_ids), *(f for f, _ in field_ids)]
            failing = {key: h.fail_once.pop(key) for key in keys if key in h.fail_once}
            for slot, (field_id, scope) in zip(values, field_ids):
                slot.fieldId, slot.scopeId = field_id, scope
                supported = (scope == pynvml.NVML_POWER_SCOPE_MODULE or h.gpu_scope_power) and (
                    field_id not in h.unsupported_fields
                )
                code = pynvml.NVML_SUCCESS if supported else pynvml.NVML_ERROR_NOT_SUPPORTED
                slot.nvmlReturn = failing.get((field_id, scope), failing.get(field_id, code))
                slot.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
                slot.value.uiVal = int(h.power_w * 1000) if slot.nvmlReturn == pynvml.NVML_SUCCESS else 0
            return values

        def power_usage(h):
            if not h.power_usage_supported:
                raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return int(h.power_w * 1000)

        def event_reasons(h):
            if not h.event_reasons_function:
                raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            return h.clock_event_reasons

        def memory_info(h, version=None):
            total, used = h.memory_mib * 2**20, h.memory_used_mib * 2**20
            return SimpleNamespace(total=total, free=total - used, used=used)

        def mig_mode(h):
            if h.mig_enabled:
                return [pynvml.NVML_DEVICE_MIG_ENABLE, pynvml.NVML_DEVICE_MIG_ENABLE]
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)

        functions = {
            "nvmlInit": init,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": by_index,
            "nvmlDeviceGetHandleByUUID": lambda u: lookup(by_uuid, u),
            "nvmlDeviceGetHandleByPciBusId": lambda b: lookup(by_bus, b),
            "nvmlDeviceGetName": lambda h: h.name,
            "nvmlDeviceGetUUID": lambda h: h.uuid,
            "nvmlDeviceGetPciInfo": lambda h: SimpleNamespace(busId=h.pci_bus_id),
            "nvmlSystemGetDriverVersion": lambda: "580.95.05",
            "nvmlSystemGetNVMLVersion": lambda: "13.580.95.05",
            "nvmlDeviceGetPowerManagementLimit": lambda h: int(h.power_limit_w * 1000),
            "nvmlDeviceGetTotalEnergyConsumption": energy,
            "nvmlDeviceGetFieldValues": field_values,
            "nvmlDeviceGetClockInfo": lambda h, clock: h.sm_clock_mhz,
            "nvmlDeviceGetMaxClockInfo": lambda h, clock: 1980,
            "nvmlDeviceGetTemperature": lambda h, sensor: h.temperature_c,
            "nvmlDeviceGetCurrentClocksEventReasons": event_reasons,
            "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: h.clock_event_reasons,
            "nvmlDeviceGetPowerUsage": power_usage,
            "nvmlDeviceGetMemoryInfo": memory_info,
            "nvmlDeviceGetMigMode": mig_mode,
            "nvmlDeviceGetComputeRunningProcesses": lambda h: [SimpleNamespace(pid=p) for p in h.processes],
        }
        for name, function in functions.items():
            function = _failing_once(name, function)
            monkeypatch.setattr(pynvml, name, mock.create_autospec(getattr(pynvml, name), side_effect=function))
        monkeypatch.setattr(time, "perf_counter", self.clock.perf_counter)
        monkeypatch.setattr(time, "sleep", self.clock.sleep)


SIM_GPUS_ENV = "TOKENCOST_SIM_GPUS"


def gpus_to_json(gpus: list[dict]) -> str:
    """The TOKENCOST_SIM_GPUS value for GPUs given as SimulatedGpu keyword arguments."""
    return json.dumps(gpus)


def gpus_from_json(text: str) -> list[SimulatedGpu]:
    gpus = []
    for kw in json.loads(text):
        if "unsupported_fields" in kw:
            kw["unsupported_fields"] = tuple(kw["unsupported_fields"])
        gpus.append(SimulatedGpu(**kw))
    return gpus


class _Patcher:
    """monkeypatch's setattr, for processes without pytest: nothing is ever undone."""

    @staticmethod
    def setattr(target, name, value) -> None:
        setattr(target, name, value)


def install_from_env(environ=os.environ) -> SimulatedNvml | None:
    """In any process: simulate the GPUs that TOKENCOST_SIM_GPUS lists, on the real clock; None when unset.

    Counters read power_w x time.perf_counter(), and perf_counter is CLOCK_MONOTONIC on Linux, so all
    the processes of one simulated node read the same counters at the same moment.
    """
    text = environ.get(SIM_GPUS_ENV)
    if text is None:
        return None
    sim = SimulatedNvml(gpus_from_json(text), RealClock())
    sim.install(_Patcher())
    return sim


def real_gpu_present() -> bool:
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except pynvml.NVMLError:
        return False
