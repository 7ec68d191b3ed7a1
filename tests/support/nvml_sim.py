"""A simulated NVML at the `pynvml` function boundary, for machines without a GPU.

The real nvidia-ml-py is installed, so its constants, error classes and field
value structures are real; only the functions that would talk to the driver
are replaced, each by an autospec of the real function (so a call with the
wrong arguments fails as it would against the driver). Energy counters and
the meter's clock advance together from one fake clock, so expected joules
are exact.
"""

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


@dataclass
class SimulatedGpu:
    index: int
    power_w: float = 300.0
    name: str = "NVIDIA H100 80GB HBM3"
    power_limit_w: float = 700.0
    counter_supported: bool = True
    gpu_scope_power: bool = True  # False: only module-scope power fields, as on Grace Hopper
    unsupported_fields: tuple = ()  # field ids that fail on their own, e.g. (NVML_FI_DEV_POWER_AVERAGE,)
    mig_enabled: bool = False
    temperature_c: int = 45
    sm_clock_mhz: int = 1980
    clock_event_reasons: int = 0
    processes: list = field(default_factory=list)
    fail_counter_after: float | None = None  # clock time after which the counter raises Unknown

    @property
    def uuid(self) -> str:
        return f"GPU-{self.index}a1e0000-0000-0000-0000-000000000000"

    @property
    def pci_bus_id(self) -> str:
        return f"00000000:{0x18 + self.index:02X}:00.0"


def _error(code):
    return pynvml.NVMLError(code)  # NVMLError maps the code to its subclass, e.g. NVMLError_NotSupported


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
            for slot, (field_id, scope) in zip(values, field_ids):
                slot.fieldId, slot.scopeId = field_id, scope
                supported = (scope == pynvml.NVML_POWER_SCOPE_MODULE or h.gpu_scope_power) and (
                    field_id not in h.unsupported_fields)
                slot.nvmlReturn = pynvml.NVML_SUCCESS if supported else pynvml.NVML_ERROR_NOT_SUPPORTED
                slot.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
                slot.value.uiVal = int(h.power_w * 1000) if supported else 0
            return values

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
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: h.clock_event_reasons,
            "nvmlDeviceGetMigMode": mig_mode,
            "nvmlDeviceGetComputeRunningProcesses": lambda h: [SimpleNamespace(pid=p) for p in h.processes],
        }
        for name, function in functions.items():
            monkeypatch.setattr(pynvml, name, mock.create_autospec(getattr(pynvml, name), side_effect=function))
        monkeypatch.setattr(time, "perf_counter", self.clock.perf_counter)
        monkeypatch.setattr(time, "sleep", self.clock.sleep)


def real_gpu_present() -> bool:
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except pynvml.NVMLError:
        return False
