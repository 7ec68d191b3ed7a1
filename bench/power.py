"""Power meters: energy over a measurement window.

`NvmlMeter` reads NVIDIA's cumulative energy counter on the GPUs that serve
the model (measured). Without a GPU, `CpuEstimateMeter` estimates CPU energy
from measured CPU utilisation and a configured power per vCPU, and says so.
"""

import os
import time
from dataclasses import asdict, dataclass, field

import psutil

# Estimate basis for a vCPU when nothing better is known: Intel Xeon Platinum
# 8592+ (the Emerald Rapids part our development machines report), 350 W TDP
# over 64 cores / 128 threads (Intel launch specs, Dec 2023, as reported by
# Tom's Hardware). A cloud vCPU is one hardware thread.
DEFAULT_WATTS_PER_VCPU = 350.0 / 128


@dataclass
class EnergyReading:
    """Energy over one window, with how and where it was obtained."""

    method: str  # "nvml-counter" (measured) or "estimated"
    boundary: str  # "gpu" or "cpu": what the joules cover
    duration_s: float
    energy_j: float | None
    avg_power_w: float | None
    basis: str  # how the figure was obtained, in words
    per_device_j: list[float] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return self.method != "estimated"

    def to_record(self) -> dict:
        return asdict(self) | {"measured": self.measured}


class CpuEstimateMeter:
    """Estimated CPU energy: vCPUs x watts per vCPU x measured utilisation."""

    method = "estimated"
    boundary = "cpu"

    def __init__(self, watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU):
        self.watts_per_vcpu = watts_per_vcpu
        self.vcpus = psutil.cpu_count(logical=True) or 1
        self._start: tuple[float, object] | None = None

    def describe(self) -> dict:
        return {"meter": "cpu-estimate", "vcpus": self.vcpus, "watts_per_vcpu": self.watts_per_vcpu}

    def begin(self) -> None:
        self._start = (time.perf_counter(), psutil.cpu_times())

    def end(self) -> EnergyReading:
        t0, times0 = self._start
        duration = time.perf_counter() - t0
        times1 = psutil.cpu_times()
        busy = _busy_fraction(times0, times1)
        power = self.vcpus * self.watts_per_vcpu * busy
        basis = (
            f"{self.vcpus} vCPU x {self.watts_per_vcpu:.2f} W/vCPU (configured) x "
            f"{busy:.1%} measured CPU utilisation; no RAPL counter readable"
        )
        return EnergyReading(
            method=self.method,
            boundary=self.boundary,
            duration_s=duration,
            energy_j=power * duration,
            avg_power_w=power,
            basis=basis,
            per_device_j=[power * duration],
        )


def _busy_fraction(before, after) -> float:
    """Share of CPU time, all CPUs together, that was not idle between two readings."""
    idle = (after.idle + getattr(after, "iowait", 0)) - (before.idle + getattr(before, "iowait", 0))
    total = sum(after) - sum(before)
    return max(0.0, min(1.0, 1 - idle / total)) if total > 0 else 0.0


class NvmlMeter:
    """Measured GPU energy from NVML's cumulative counter (millijoules).

    Reads `nvmlDeviceGetTotalEnergyConsumption` on every GPU serving the model
    at both edges of a window and sums the differences.
    """

    method = "nvml-counter"
    boundary = "gpu"

    def __init__(self, handles: list):
        import pynvml

        self._nvml = pynvml
        self.handles = handles
        self._start: tuple[float, list[int]] | None = None

    def describe(self) -> dict:
        return {"meter": "nvml", "gpus": len(self.handles)}

    def _read_mj(self) -> list[int]:
        return [self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]

    def begin(self) -> None:
        self._start = (time.perf_counter(), self._read_mj())

    def end(self) -> EnergyReading:
        t0, mj0 = self._start
        mj1 = self._read_mj()
        duration = time.perf_counter() - t0
        per_device = [(b - a) / 1000.0 for a, b in zip(mj0, mj1)]
        flags = []
        energy = sum(per_device)
        if any(j <= 0 for j in per_device):
            # The counter updates about every 100 ms; a window that saw no
            # update is not a zero-energy window.
            flags.append("counter-window-too-short")
            energy = None
        return EnergyReading(
            method=self.method,
            boundary=self.boundary,
            duration_s=duration,
            energy_j=energy,
            avg_power_w=energy / duration if energy is not None and duration > 0 else None,
            basis=f"NVML total-energy counter difference summed over {len(self.handles)} GPU(s)",
            per_device_j=per_device,
            flags=flags,
        )


def visible_gpu_handles() -> list:
    """NVML handles of the GPUs this process may use; empty when there is no NVIDIA GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no library, no driver or no GPU: nothing to measure
        return []
    count = pynvml.nvmlDeviceGetCount()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    handles = []
    for item in (v.strip() for v in visible.split(",") if v.strip()):
        if item.startswith("GPU-"):
            handles.append(pynvml.nvmlDeviceGetHandleByUUID(item))
        elif item.isdigit() and int(item) < count:
            handles.append(pynvml.nvmlDeviceGetHandleByIndex(int(item)))
    return handles


def gpu_info(handles: list) -> list[dict]:
    """What makes a GPU figure traceable: name, UUID, power limit, driver."""
    if not handles:
        return []
    import pynvml

    driver = pynvml.nvmlSystemGetDriverVersion()
    info = []
    for h in handles:
        info.append(
            {
                "name": pynvml.nvmlDeviceGetName(h),
                "uuid": pynvml.nvmlDeviceGetUUID(h),
                "driver": driver,
                "power_limit_w": pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0,
            }
        )
    return info


def make_meter(handles: list, watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU):
    """The best meter this machine allows."""
    return NvmlMeter(handles) if handles else CpuEstimateMeter(watts_per_vcpu)
