"""A simulated NVML at the `pynvml` function boundary, for machines without a GPU.

The real nvidia-ml-py is installed, so its constants and error classes are
real; only the functions that would talk to the driver are replaced. Each
simulated GPU draws a fixed power, and its energy counter advances with the
real clock in 100 ms steps, like the hardware counter's update period.
"""

import time
from dataclasses import dataclass

import pynvml

COUNTER_PERIOD_S = 0.1


@dataclass
class SimulatedGpu:
    index: int
    name: str = "NVIDIA H100 80GB HBM3"
    power_w: float = 300.0
    power_limit_w: float = 700.0

    @property
    def uuid(self) -> str:
        return f"GPU-00000000-0000-0000-0000-00000000000{self.index}"

    def energy_mj(self, now: float, start: float) -> int:
        steps = int((now - start) / COUNTER_PERIOD_S)
        return 5_000_000 + int(steps * COUNTER_PERIOD_S * self.power_w * 1000)


class SimulatedNvml:
    def __init__(self, gpus: list[SimulatedGpu]):
        self.gpus = gpus
        self.start = time.perf_counter()

    def install(self, monkeypatch) -> None:
        by_uuid = {g.uuid: g for g in self.gpus}

        def by_index(i):
            if not 0 <= i < len(self.gpus):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            return self.gpus[i]

        def by_uuid_lookup(uuid):
            if uuid not in by_uuid:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
            return by_uuid[uuid]

        functions = {
            "nvmlInit": lambda: None,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: len(self.gpus),
            "nvmlDeviceGetHandleByIndex": by_index,
            "nvmlDeviceGetHandleByUUID": by_uuid_lookup,
            "nvmlDeviceGetName": lambda h: h.name,
            "nvmlDeviceGetUUID": lambda h: h.uuid,
            "nvmlSystemGetDriverVersion": lambda: "580.95.05",
            "nvmlDeviceGetPowerManagementLimit": lambda h: int(h.power_limit_w * 1000),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: h.energy_mj(time.perf_counter(), self.start),
        }
        for name, function in functions.items():
            monkeypatch.setattr(pynvml, name, function)


def real_gpu_present() -> bool:
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except pynvml.NVMLError:
        return False
