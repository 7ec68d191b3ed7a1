"""Power meters: energy between two snapshots, with what it covers and how it was obtained.

A meter takes cheap snapshots (a timestamp and cumulative counters); a
reading is the difference between two of them, so windows may overlap (the
steady-state window sits inside the whole-point window).

- `NvmlMeter` (measured, boundary `gpu`): NVML's cumulative energy counter on
  every serving GPU; where a GPU lacks it, sampled power integrated over time
  (`nvml-sampled`).
- `RaplMeter` (measured, boundary `cpu`): Linux powercap package counters,
  with wraparound handled.
- `CpuEstimateMeter` (`estimated`, boundary `cpu`): vCPUs x a configured power
  per vCPU x measured CPU utilisation, saying why nothing better was used.
"""

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.energy.gpus import GpuDevice, official_pynvml
from bench.energy.sampler import PowerSampler, Sample

# Estimate basis for a vCPU when nothing better is known: Intel Xeon Platinum
# 8592+ (the Emerald Rapids part our development machines report), 350 W TDP
# over 64 cores / 128 threads (Intel launch specs, Dec 2023, as reported by
# Tom's Hardware). A cloud vCPU is one hardware thread.
DEFAULT_WATTS_PER_VCPU = 350.0 / 128
RAPL_ROOT = Path("/sys/class/powercap")


@dataclass
class EnergyReading:
    """Energy over one window, with how and where it was obtained."""

    method: str  # "nvml-counter", "nvml-sampled", "rapl" (measured), "estimated" or "none"
    boundary: str  # "gpu" or "cpu": what the joules cover
    duration_s: float
    energy_j: float | None
    avg_power_w: float | None
    basis: str  # how the figure was obtained, in words
    per_device_j: list[float | None] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    sampled_avg_power_w: float | None = None  # the sampler's mean, to cross-check a counter
    per_node: list[dict[str, Any]] = field(default_factory=list)  # a meter of several nodes: each node's reading
    edge_skew_s: float | None = None  # such a meter: how far a node's window edge may lie from the driver's

    @property
    def measured(self) -> bool:
        return self.method not in ("estimated", "none")

    def to_record(self) -> dict[str, Any]:
        return asdict(self) | {"measured": self.measured}


@dataclass(frozen=True)
class Snapshot:
    t: float
    counters: tuple[Any, ...]  # meter-specific cumulative readings


class Meter:
    """Snapshots and readings; subclasses say how. start/stop run any background sampling."""

    method = "none"
    boundary = "none"

    def describe(self) -> dict[str, Any]:
        """What the meter is, for run.json."""
        raise NotImplementedError

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        raise NotImplementedError

    def samples(self, t0: float, t1: float) -> list[Sample]:
        """Power samples taken in [t0, t1]; none for meters without a sampler."""
        return []

    def save_timeline(self, path: Path, label: str, t0: float, t1: float) -> bool:
        """Append the samples of [t0, t1] to a timeline file; False when the meter keeps none."""
        return False

    def idle_baseline(self, seconds: float) -> float | None:
        """Average power over `seconds` with nothing running (call before any engine loads)."""
        start = self.snapshot()
        time.sleep(seconds)
        return self.reading(start, self.snapshot()).avg_power_w


class NvmlMeter(Meter):
    boundary = "gpu"

    def __init__(self, devices: list[GpuDevice], sampler: PowerSampler | None = None):
        self.pynvml = official_pynvml()
        self.devices = devices
        self.sampler = sampler or PowerSampler(devices)
        self.counter_supported = [self._counter(d) is not None for d in devices]
        self.method = "nvml-counter" if all(self.counter_supported) else "nvml-sampled"

    def describe(self) -> dict[str, Any]:
        return {
            "meter": "nvml",
            "method": self.method,
            "gpus": [d.uuid for d in self.devices],
            "counter_supported": self.counter_supported,
            "sample_interval_s": self.sampler.interval_s,
        }

    def start(self) -> None:
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()

    def samples(self, t0: float, t1: float) -> list[Sample]:
        return self.sampler.between(t0, t1)

    def save_timeline(self, path: Path, label: str, t0: float, t1: float) -> bool:
        self.sampler.save(path, label, t0, t1)
        return True

    def _counter(self, device: GpuDevice) -> int | None:
        try:
            millijoules: int = self.pynvml.nvmlDeviceGetTotalEnergyConsumption(device.handle)
            return millijoules
        except self.pynvml.NVMLError:  # NotSupported on pre-Volta GPUs, Unknown mid-run
            return None

    def snapshot(self) -> Snapshot:
        return Snapshot(time.perf_counter(), tuple(self._counter(d) for d in self.devices))

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        duration = end.t - start.t
        sampled_w = self.sampler.mean_power_w(start.t, end.t)
        flags: list[str] = []
        per_device: list[float | None] = [
            (b - a) / 1000.0 if a is not None and b is not None else None for a, b in zip(start.counters, end.counters)
        ]
        ticked = [j for j in per_device if j is not None and j > 0]
        if len(ticked) == len(per_device):
            counted_j = sum(ticked)
            return EnergyReading(
                "nvml-counter",
                "gpu",
                duration,
                counted_j,
                counted_j / duration,
                f"NVML total-energy counter difference summed over {len(per_device)} GPU(s)",
                per_device,
                flags,
                sampled_w,
            )
        if any(j is None for j in per_device):
            flags.append("counter-unavailable")
        if any(j is not None and j <= 0 for j in per_device):
            # The counter updates about every 100 ms; a window it did not see tick is not a zero-energy window.
            flags.append("counter-window-too-short")
        energy = self.sampler.energy_j(start.t, end.t)
        if energy is None:
            flags.append("no-power-samples")
        return EnergyReading(
            "nvml-sampled",
            "gpu",
            duration,
            energy,
            energy / duration if energy is not None and duration > 0 else None,
            f"{self.sampler.power_basis(start.t, end.t)} sampled every {self.sampler.interval_s:g} s, "
            f"integrated over time, summed over {len(self.devices)} GPU(s)",
            [None] * len(per_device),
            flags,
            sampled_w,
        )


class RaplMeter(Meter):
    """CPU package energy from Linux powercap (RAPL) counters, in microjoules."""

    method = "rapl"
    boundary = "cpu"

    def __init__(self, zones: list[Path]):
        self.zones = zones
        self.ranges = [int((z / "max_energy_range_uj").read_text()) for z in zones]

    def describe(self) -> dict[str, Any]:
        return {"meter": "rapl", "zones": [str(z) for z in self.zones]}

    def snapshot(self) -> Snapshot:
        return Snapshot(time.perf_counter(), tuple(int((z / "energy_uj").read_text()) for z in self.zones))

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        duration = end.t - start.t
        # A counter that passed its maximum wrapped around once (windows are far shorter than a wrap).
        per_zone = [((b - a) % r) / 1e6 for a, b, r in zip(start.counters, end.counters, self.ranges)]
        energy = sum(per_zone)
        flags = [] if energy > 0 else ["counter-window-too-short"]
        return EnergyReading(
            "rapl",
            "cpu",
            duration,
            energy if energy > 0 else None,
            energy / duration if energy > 0 and duration > 0 else None,
            f"RAPL package counters of {len(self.zones)} socket(s)",
            per_zone,
            flags,
        )


def rapl_zones(root: Path = RAPL_ROOT) -> tuple[list[Path], str]:
    """Readable RAPL package zones, or none and the reason."""
    if not root.is_dir():
        return [], f"{root} does not exist (no RAPL driver, or a VM that hides it)"
    zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
    if not zones:
        return [], f"{root} has no intel-rapl package zones"
    try:
        for z in zones:
            int((z / "energy_uj").read_text())
            int((z / "max_energy_range_uj").read_text())
    except PermissionError:
        return [], f"{zones[0]}/energy_uj is not readable by this user (RAPL needs root)"
    except (OSError, ValueError) as e:
        return [], f"{zones[0]}/energy_uj cannot be read ({e})"
    return zones, "readable"


class CpuEstimateMeter(Meter):
    """Estimated CPU energy: vCPUs x watts per vCPU x measured utilisation."""

    method = "estimated"
    boundary = "cpu"

    def __init__(self, watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU, why: str = ""):
        self.watts_per_vcpu = watts_per_vcpu
        self.vcpus = psutil.cpu_count(logical=True) or 1
        self.why = why

    def describe(self) -> dict[str, Any]:
        return {
            "meter": "cpu-estimate",
            "vcpus": self.vcpus,
            "watts_per_vcpu": self.watts_per_vcpu,
            "why_not_measured": self.why,
        }

    def snapshot(self) -> Snapshot:
        return Snapshot(time.perf_counter(), tuple(psutil.cpu_times()))

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        duration = end.t - start.t
        busy = _busy_fraction(start.counters, end.counters)
        power = self.vcpus * self.watts_per_vcpu * busy
        basis = (
            f"{self.vcpus} vCPU x {self.watts_per_vcpu:.2f} W/vCPU (configured) x "
            f"{busy:.1%} measured CPU utilisation; not measured because {self.why or 'no meter was found'}"
        )
        return EnergyReading(self.method, self.boundary, duration, power * duration, power, basis, [power * duration])


class NoMeter(Meter):
    """No energy figure: the model runs on a machine this one cannot measure (a remote endpoint)."""

    method = "none"
    boundary = "none"

    def __init__(self, why: str):
        self.why = why

    def describe(self) -> dict[str, Any]:
        return {"meter": "none", "why_not_measured": self.why}

    def snapshot(self) -> Snapshot:
        return Snapshot(time.perf_counter(), ())

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        return EnergyReading(self.method, self.boundary, end.t - start.t, None, None, f"not measured: {self.why}")


def _busy_fraction(before: tuple[float, ...], after: tuple[float, ...]) -> float:
    """Share of CPU time, all CPUs together, that was not idle between two psutil.cpu_times() readings."""
    fields = psutil.cpu_times()._fields
    b, a = dict(zip(fields, before)), dict(zip(fields, after))
    idle = (a["idle"] + a.get("iowait", 0)) - (b["idle"] + b.get("iowait", 0))
    total = sum(after) - sum(before)
    return max(0.0, min(1.0, 1 - idle / total)) if total > 0 else 0.0


def make_meter(
    devices: list[GpuDevice], watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU, rapl_root: Path = RAPL_ROOT
) -> Meter:
    """The best meter this machine allows: NVML on the serving GPUs, else RAPL, else an estimate."""
    if devices:
        return NvmlMeter(devices)
    zones, why = rapl_zones(rapl_root)
    if zones:
        return RaplMeter(zones)
    return CpuEstimateMeter(watts_per_vcpu, why=f"no NVIDIA GPU, and RAPL: {why}")
