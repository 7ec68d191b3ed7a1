"""Compute processes on the serving GPUs that are not ours: their work would be in our joules.

Inside a container without --pid=host, NVML reports host PIDs while this process
sees the container's, so our own vLLM processes would look foreign. There the
check says it cannot judge (ok None) rather than failing or passing.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.energy.gpus import GpuDevice, official_pynvml

PROC = Path("/proc")
# The host's (initial) PID namespace has this fixed inode number (PROC_PID_INIT_INO, Linux >= 3.8).
INIT_PID_NAMESPACE_INODE = 0xEFFFFFFC
NAMESPACE_NOTE = (
    "in a PID namespace: NVML reports host PIDs, so our own cannot be told apart; run the container with --pid=host"
)


@dataclass(frozen=True)
class ProcessCheck:
    ok: bool | None  # None: cannot be judged (a PID namespace, or processes that could not be listed)
    processes: list[dict[str, Any]] = field(default_factory=list)  # {"gpu": uuid, "pid": pid as NVML gave it}
    note: str | None = None

    def as_check(self) -> dict[str, Any]:
        return {"ok": self.ok, "processes": self.processes, "note": self.note}


def in_pid_namespace(
    status_path: Path = PROC / "self" / "status", ns_path: Path = PROC / "self" / "ns" / "pid"
) -> bool:
    """Whether this process runs in a PID namespace other than the host's.

    NSpid lists our PID in each namespace from that of /proc's mount inwards: more than one entry when /proc
    was mounted outside ours. A container mounts its own /proc (one entry), so the namespace link also counts:
    anything but the initial namespace's inode is a nested namespace.
    """
    try:
        for line in Path(status_path).read_text().splitlines():
            if line.startswith("NSpid:") and len(line.split()) > 2:
                return True
    except OSError:
        pass
    try:
        link = os.readlink(ns_path)  # "pid:[4026531836]"
    except OSError:
        return False
    inode = link.removeprefix("pid:[").removesuffix("]")
    return inode.isdigit() and int(inode) != INIT_PID_NAMESPACE_INODE


def _none_in_proc(reported: list[dict[str, Any]]) -> bool:
    """Every PID NVML gave is absent from our /proc: they are another namespace's PIDs."""
    return bool(reported) and not any((PROC / str(p["pid"])).exists() for p in reported)


def other_processes(
    devices: list[GpuDevice],
    own_pids: set[int],
    status_path: Path = PROC / "self" / "status",
    ns_path: Path = PROC / "self" / "ns" / "pid",
) -> ProcessCheck:
    """Compute processes on `devices` that are not in `own_pids` (this process and its children)."""
    pynvml = official_pynvml()
    reported, unlisted = [], []
    for d in devices:
        try:
            processes = pynvml.nvmlDeviceGetComputeRunningProcesses(d.handle)
        except pynvml.NVMLError as e:
            unlisted.append(f"{d.uuid}: {e}")
            continue
        reported += [{"gpu": d.uuid, "pid": p.pid} for p in processes]
    if in_pid_namespace(status_path, ns_path) or _none_in_proc(reported):
        return ProcessCheck(None, reported, NAMESPACE_NOTE)
    foreign = [p for p in reported if p["pid"] not in own_pids]
    if foreign:
        return ProcessCheck(False, foreign)
    if unlisted:
        return ProcessCheck(None, [], "compute processes could not be listed on " + "; ".join(unlisted))
    return ProcessCheck(True)


def pids_on(devices: list[GpuDevice]) -> dict[int, str]:
    """The compute processes on `devices`: pid (as NVML gives it) -> the UUID of the GPU running it."""
    pynvml = official_pynvml()
    return {p.pid: d.uuid for d in devices for p in pynvml.nvmlDeviceGetComputeRunningProcesses(d.handle)}
