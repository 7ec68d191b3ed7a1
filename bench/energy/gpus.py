"""Which NVIDIA GPUs serve the model, found through NVML the way CUDA numbers them.

NVML enumerates GPUs by PCI bus id; CUDA (and so CUDA_VISIBLE_DEVICES) orders
them fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID. GPUs are therefore
matched by UUID, never by assuming the two orders agree.
"""

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.errors import UserError


@dataclass(frozen=True)
class GpuDevice:
    handle: object
    nvml_index: int
    uuid: str
    name: str
    pci_bus_id: str


def official_pynvml():
    """The `pynvml` module of NVIDIA's nvidia-ml-py; the old unofficial `pynvml` package is refused."""
    try:
        import pynvml
    except ImportError:
        raise UserError("nvidia-ml-py", "is not installed", "pip install nvidia-ml-py") from None
    try:
        dist = metadata.distribution("nvidia-ml-py")
        official = Path(dist.locate_file("pynvml.py")).resolve()
    except metadata.PackageNotFoundError:
        official = None
    if official is None or Path(pynvml.__file__).resolve() != official:
        raise UserError(
            "pynvml", f"the module at {pynvml.__file__} is not NVIDIA's nvidia-ml-py",
            "pip uninstall pynvml && pip install --force-reinstall nvidia-ml-py",
        )
    return pynvml


def nvml_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_available() -> bool:
    pynvml = official_pynvml()
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
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
        devices.append(GpuDevice(
            h, i, nvml_text(pynvml.nvmlDeviceGetUUID(h)), nvml_text(pynvml.nvmlDeviceGetName(h)),
            nvml_text(pynvml.nvmlDeviceGetPciInfo(h).busId),
        ))
    return devices


def _cuda_order_uuids(count: int) -> list[str] | None:
    """UUIDs in CUDA's own device order, from torch when it is installed and sees CUDA."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return [f"GPU-{torch.cuda.get_device_properties(i).uuid}" for i in range(min(count, torch.cuda.device_count()))]
    except Exception:  # no torch, or a torch that cannot talk to the driver
        return None


def serving_gpus(env: dict | None = None) -> list[GpuDevice]:
    """The GPUs this process's engine will use: CUDA_VISIBLE_DEVICES resolved to NVML devices."""
    env = os.environ if env is None else env
    devices = all_gpus()
    if not devices:
        return []
    pynvml = official_pynvml()
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        chosen = devices
    else:
        items = [v.strip() for v in visible.split(",") if v.strip()]
        by_uuid = {d.uuid: d for d in devices}
        if env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
            cuda_order = [d.uuid for d in sorted(devices, key=lambda d: d.pci_bus_id)]
        else:
            cuda_order = _cuda_order_uuids(len(devices)) or [d.uuid for d in devices]
        chosen = []
        for item in items:
            if item.startswith("MIG-"):
                _refuse_mig(item)
            if item.startswith("GPU-"):
                matches = [d for u, d in by_uuid.items() if u.startswith(item)]
                if len(matches) != 1:
                    found = f"matches {len(matches)} GPUs" if matches else "matches no GPU"
                    raise UserError("CUDA_VISIBLE_DEVICES", f"{item} {found}", "use a full UUID from `nvidia-smi -L`")
                chosen.append(matches[0])
            elif item.isdigit() and int(item) < len(cuda_order):
                chosen.append(by_uuid[cuda_order[int(item)]])
            else:
                break  # CUDA ignores the rest of the list after an invalid entry
    for d in chosen:
        try:
            current, _ = pynvml.nvmlDeviceGetMigMode(d.handle)
        except pynvml.NVMLError:
            continue  # no MIG support on this GPU
        if current == pynvml.NVML_DEVICE_MIG_ENABLE:
            _refuse_mig(d.uuid)
    return chosen


def _refuse_mig(which: str):
    raise UserError(
        "CUDA_VISIBLE_DEVICES", f"{which} is (or has) a MIG slice: NVML energy counts the whole GPU, not a slice",
        "measure on whole GPUs with MIG disabled (nvidia-smi -mig 0)",
    )


def describe(devices: list[GpuDevice]) -> list[dict]:
    """What makes a GPU figure traceable: name, UUID, bus id, driver, power limit, MIG mode."""
    if not devices:
        return []
    pynvml = official_pynvml()
    driver = nvml_text(pynvml.nvmlSystemGetDriverVersion())
    info = []
    for d in devices:
        entry = {"name": d.name, "uuid": d.uuid, "pci_bus_id": d.pci_bus_id, "nvml_index": d.nvml_index,
                 "driver": driver}
        for key, call in (
            ("power_limit_w", lambda h: pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0),
            ("max_sm_clock_mhz", lambda h: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM)),
            ("temperature_c", lambda h: pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
        ):
            try:
                entry[key] = call(d.handle)
            except pynvml.NVMLError as e:
                entry[key] = None
                entry.setdefault("unsupported", []).append(f"{key}: {e}")
        info.append(entry)
    return info


def other_processes(devices: list[GpuDevice], own_pids: set[int]) -> list[dict]:
    """Compute processes on the serving GPUs that are not ours (their work would be in our joules)."""
    pynvml = official_pynvml()
    found = []
    for d in devices:
        try:
            processes = pynvml.nvmlDeviceGetComputeRunningProcesses(d.handle)
        except pynvml.NVMLError:
            continue
        found += [{"gpu": d.uuid, "pid": p.pid} for p in processes if p.pid not in own_pids]
    return found
