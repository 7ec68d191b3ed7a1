"""Which NVIDIA GPUs the engine uses, found through NVML the way CUDA numbers them.

A run meters and prices exactly the engine's GPUs: the first tensor x pipeline
x data parallel GPUs that CUDA_VISIBLE_DEVICES leaves visible. The harness
never initialises CUDA itself (that would change how vLLM starts its workers),
so CUDA's numbering is worked out from NVML's PCI bus ids and UUIDs.
"""

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from bench.errors import UserError


@dataclass(frozen=True)
class GpuDevice:
    handle: object
    nvml_index: int
    uuid: str
    name: str
    pci_bus_id: str


_checked_module: ModuleType | None = None  # the pynvml module last found official (the check reads package metadata)


def official_pynvml() -> ModuleType:
    """The `pynvml` module of NVIDIA's nvidia-ml-py; the old unofficial `pynvml` package is refused."""
    global _checked_module
    if _checked_module is not None and sys.modules.get("pynvml") is _checked_module:
        return _checked_module
    try:
        import pynvml
    except ImportError:
        raise UserError("nvidia-ml-py", "is not installed", "pip install nvidia-ml-py") from None
    try:
        dist = metadata.distribution("nvidia-ml-py")
        official = Path(str(dist.locate_file("pynvml.py"))).resolve()
    except metadata.PackageNotFoundError:
        official = None
    if official is None or Path(pynvml.__file__).resolve() != official:
        raise UserError(
            "pynvml",
            f"the module at {pynvml.__file__} is not NVIDIA's nvidia-ml-py",
            "pip uninstall pynvml && pip install --force-reinstall nvidia-ml-py",
        )
    _checked_module = pynvml
    return _checked_module


def nvml_text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_available() -> bool:
    pynvml = official_pynvml()
    try:
        pynvml.nvmlInit()
        return bool(pynvml.nvmlDeviceGetCount() > 0)
    except pynvml.NVMLError:
        return False


def all_gpus() -> list[GpuDevice]:
    """Every GPU NVML sees, in NVML (PCI bus) order; empty without a driver or GPU."""
    if not nvml_available():
        return []
    pynvml = official_pynvml()
    devices = []
    for i in range(pynvml.nvmlDeviceGetCount()):
        h = pynvml.nvmlDeviceGetHandleByIndex(i)
        devices.append(
            GpuDevice(
                h,
                i,
                nvml_text(pynvml.nvmlDeviceGetUUID(h)),
                nvml_text(pynvml.nvmlDeviceGetName(h)),
                nvml_text(pynvml.nvmlDeviceGetPciInfo(h).busId),
            )
        )
    return devices


@dataclass(frozen=True)
class GpuSet:
    """The GPUs a run's engine uses (metered and priced) and the visible ones it leaves idle."""

    engine: list[GpuDevice]
    idle: list[GpuDevice]


def cuda_order(devices: list[GpuDevice], env: Mapping[str, str]) -> list[GpuDevice]:
    """The GPUs in CUDA's numbering, worked out from NVML alone (CUDA is never initialised here).

    With CUDA_DEVICE_ORDER=PCI_BUS_ID, CUDA numbers by PCI bus id. Its default,
    FASTEST_FIRST, ranks by compute capability and size and leaves ties in bus
    order, so on a node of identical GPUs the two agree. For mixed GPUs
    without PCI_BUS_ID the order cannot be known without CUDA, so it is refused.
    """
    by_bus = sorted(devices, key=lambda d: d.pci_bus_id)
    order = env.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    if order not in ("PCI_BUS_ID", "FASTEST_FIRST"):
        raise UserError("CUDA_DEVICE_ORDER", f"{order!r} is not an order CUDA knows", "use PCI_BUS_ID")
    if order == "FASTEST_FIRST" and len({d.name for d in devices}) > 1:
        raise UserError(
            "CUDA_DEVICE_ORDER",
            "GPUs of different models are numbered fastest-first by CUDA, an order NVML cannot reproduce",
            "set CUDA_DEVICE_ORDER=PCI_BUS_ID, or give GPU UUIDs in CUDA_VISIBLE_DEVICES",
        )
    return by_bus


def visible_gpus(env: Mapping[str, str] | None = None) -> list[GpuDevice]:
    """The GPUs this process and its children can use, in CUDA's numbering: CUDA_VISIBLE_DEVICES resolved."""
    env = os.environ if env is None else env
    devices = all_gpus()
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if not devices:
        return []
    if visible is None or any(v.strip().isdigit() for v in visible.split(",")):
        _refuse_numbering_with_mig(devices)
    if visible is None:
        return cuda_order(devices, env)
    items = [v.strip() for v in visible.split(",")]
    chosen: list[GpuDevice] = []
    for item in items:
        if item.startswith("MIG-"):
            _refuse_mig(item)
        if item.startswith("GPU-"):
            matches = [d for d in devices if d.uuid.startswith(item)]
            if len(matches) != 1:
                found = f"matches {len(matches)} GPUs" if matches else "matches no GPU"
                raise UserError("CUDA_VISIBLE_DEVICES", f"{item} {found}", "use a full UUID from `nvidia-smi -L`")
            device = matches[0]
        elif item.isdigit() and int(item) < len(devices):
            device = cuda_order(devices, env)[int(item)]
        else:
            break  # CUDA ignores the rest of the list after an invalid entry (-1 hides every GPU)
        if device in chosen:
            raise UserError("CUDA_VISIBLE_DEVICES", f"{visible!r} names {device.uuid} twice", "name each GPU once")
        chosen.append(device)
    if not chosen:
        raise UserError(
            "CUDA_VISIBLE_DEVICES",
            f"{visible!r} leaves none of this machine's {len(devices)} GPUs visible",
            "name GPUs by index or UUID (nvidia-smi -L), or unset it",
        )
    return chosen


def with_full_uuids(env: Mapping[str, str]) -> str | None:
    """CUDA_VISIBLE_DEVICES with every GPU-UUID prefix written out in full, as vLLM needs it: vLLM 0.32 looks a
    non-integer entry up with nvmlDeviceGetHandleByUUID, which takes full UUIDs only, and does not catch the
    NVMLError (vllm/platforms/cuda.py). None when no entry is a prefix."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if not visible:
        return None
    full = {d.uuid for d in all_gpus()}
    if all(not item.strip().startswith("GPU-") or item.strip() in full for item in visible.split(",")):
        return None
    return ",".join(d.uuid for d in visible_gpus(env))


def engine_gpus(count: int, env: Mapping[str, str] | None = None) -> GpuSet:
    """The first `count` visible GPUs, which a vLLM engine of tensor x pipeline x data parallel `count` uses.

    Empty on a machine without NVIDIA GPUs. Fewer visible GPUs than the engine
    needs is an error, never a silent fallback to fewer GPUs or to the CPU.
    """
    visible = visible_gpus(env)
    if not visible:
        return GpuSet([], [])
    if count > len(visible):
        raise UserError(
            "engine parallelism",
            f"the engine needs {count} GPUs and {len(visible)} are visible",
            "lower tensor/pipeline/data_parallel_size, or make more GPUs visible (CUDA_VISIBLE_DEVICES)",
        )
    engine = visible[:count]
    for d in engine:
        if in_mig_mode(d):
            _refuse_mig(d.uuid)
    return GpuSet(engine, visible[count:])


def in_mig_mode(device: GpuDevice) -> bool:
    pynvml = official_pynvml()
    try:
        current, _ = pynvml.nvmlDeviceGetMigMode(device.handle)
    except pynvml.NVMLError:
        return False  # no MIG support on this GPU
    return bool(current == pynvml.NVML_DEVICE_MIG_ENABLE)


def _refuse_numbering_with_mig(devices: list[GpuDevice]) -> None:
    """CUDA numbers a GPU in MIG mode by its slices, not as one device, so indices no longer match NVML's GPUs."""
    mig = [d.uuid for d in devices if in_mig_mode(d)]
    if mig:
        raise UserError(
            "CUDA_VISIBLE_DEVICES",
            f"{mig[0]} is in MIG mode, which changes how CUDA numbers GPUs",
            "name the GPUs to use by UUID (nvidia-smi -L), or disable MIG (nvidia-smi -mig 0)",
        )


def memory_bytes(devices: list[GpuDevice]) -> int | None:
    """The smallest total memory among the GPUs (what each engine shard can count on), or None."""
    pynvml = official_pynvml()
    try:
        return min(pynvml.nvmlDeviceGetMemoryInfo(d.handle).total for d in devices) if devices else None
    except pynvml.NVMLError:
        return None


def _refuse_mig(which: str) -> NoReturn:
    raise UserError(
        "CUDA_VISIBLE_DEVICES",
        f"{which} is (or has) a MIG slice: NVML energy counts the whole GPU, not a slice",
        "measure on whole GPUs with MIG disabled (nvidia-smi -mig 0)",
    )


def describe(devices: list[GpuDevice]) -> list[dict[str, Any]]:
    """What makes a GPU figure traceable: name, UUID, bus id, driver, power limit, MIG mode."""
    if not devices:
        return []
    pynvml = official_pynvml()
    driver = nvml_text(pynvml.nvmlSystemGetDriverVersion())
    info = []
    for d in devices:
        entry: dict[str, Any] = {
            "name": d.name,
            "uuid": d.uuid,
            "pci_bus_id": d.pci_bus_id,
            "nvml_index": d.nvml_index,
            "driver": driver,
        }
        readings: list[tuple[str, Callable[[object], object]]] = [
            ("power_limit_w", lambda h: pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0),
            ("max_sm_clock_mhz", lambda h: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM)),
            ("temperature_c", lambda h: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
        ]
        for key, call in readings:
            try:
                entry[key] = call(d.handle)
            except pynvml.NVMLError as e:
                entry[key] = None
                entry.setdefault("unsupported", []).append(f"{key}: {e}")
        info.append(entry)
    return info
