"""Foreign compute processes on the serving GPUs, and the PID namespace that makes them unknowable."""

import os
import shutil
import subprocess
import sys

import pynvml
import pytest

from bench.energy import gpus
from bench.energy.processes import NAMESPACE_NOTE, ProcessCheck, in_pid_namespace, other_processes
from tests.conftest import simulate
from tests.support import REPO
from tests.support.nvml_sim import eight_gpu_node

ABSENT = 99_999_001  # above any pid_max (at most 2**22): never in /proc
HOST_NS = "pid:[4026531836]"  # the initial PID namespace's inode


def _status(tmp_path, nspid: str):
    path = tmp_path / "status"
    path.write_text(f"Name:\tpython\nTgid:\t1234\nPid:\t1234\nPPid:\t1\nNSpid:\t{nspid}\nNSsid:\t1\n")
    return path


def _ns(tmp_path, target: str, name: str = "pid-ns"):
    link = tmp_path / name
    link.symlink_to(target)  # read with readlink, as /proc/self/ns/pid is
    return link


@pytest.fixture
def host(tmp_path):
    """Paths as on a host: our pid in one namespace, the initial one."""
    return {"status_path": _status(tmp_path, "1234"), "ns_path": _ns(tmp_path, HOST_NS)}


@pytest.fixture
def namespaced(tmp_path):
    """/proc mounted outside our namespace, so NSpid lists the outer pid and ours."""
    return {"status_path": _status(tmp_path, "1234\t1"), "ns_path": _ns(tmp_path, HOST_NS)}


def test_nspid_with_more_than_one_entry_is_a_pid_namespace(tmp_path):
    assert in_pid_namespace(_status(tmp_path, "1234\t1"), tmp_path / "missing") is True
    assert in_pid_namespace(_status(tmp_path, "88\t1234\t7"), tmp_path / "missing") is True


def test_a_container_with_its_own_proc_is_told_by_its_namespace_inode(tmp_path):
    # Docker mounts /proc inside the container: NSpid has one entry there, the namespace link is not the host's.
    assert in_pid_namespace(_status(tmp_path, "7"), _ns(tmp_path, "pid:[4026532183]")) is True


def test_one_nspid_entry_in_the_initial_namespace_is_the_host(host, tmp_path):
    assert in_pid_namespace(**host) is False
    assert in_pid_namespace(tmp_path / "no-status", tmp_path / "no-link") is False  # nothing to tell by: host
    assert in_pid_namespace(_status(tmp_path, "1234"), _ns(tmp_path, "odd", "odd-ns")) is False


def _unshare(*flags: str) -> subprocess.CompletedProcess:
    code = "from bench.energy.processes import in_pid_namespace; print(in_pid_namespace())"
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--pid", "--fork", *flags, sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _unshare_permitted() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "-Urpf", "--mount-proc", "true"], check=False, capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare not permitted here: {probe.stderr.strip()}"


UNSHARE_REFUSED = _unshare_permitted()


@pytest.mark.skipif(UNSHARE_REFUSED is not None, reason=str(UNSHARE_REFUSED))
@pytest.mark.parametrize("flags", [(), ("--mount-proc",)], ids=["outer-proc", "own-proc-like-docker"])
def test_a_real_new_pid_namespace_is_detected(flags):
    result = _unshare(*flags)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_outside_a_namespace_only_foreign_processes_fail_the_check(monkeypatch, host):
    me = os.getpid()
    node = eight_gpu_node()
    for g in node[:4]:
        g.processes = [me]
    node[5].processes = [1, ABSENT]  # 1 is in /proc; ABSENT ended between NVML's list and ours, say
    simulate(monkeypatch, *node)
    devices = gpus.all_gpus()
    assert other_processes(devices, {me}, **host) == ProcessCheck(
        False, [{"gpu": node[5].uuid, "pid": 1}, {"gpu": node[5].uuid, "pid": ABSENT}], None
    )
    assert other_processes(devices[:4], {me}, **host) == ProcessCheck(True, [], None)
    assert other_processes(devices[6:], {me}, **host) == ProcessCheck(True, [], None)  # no processes at all


def test_in_a_pid_namespace_processes_are_listed_but_not_judged(monkeypatch, namespaced):
    me = os.getpid()
    node = eight_gpu_node()
    node[0].processes, node[1].processes = [4_123_456], [me]
    simulate(monkeypatch, *node)
    result = other_processes(gpus.all_gpus(), {me}, **namespaced)
    assert result == ProcessCheck(
        None, [{"gpu": node[0].uuid, "pid": 4_123_456}, {"gpu": node[1].uuid, "pid": me}], NAMESPACE_NOTE
    )
    assert result.as_check() == {"ok": None, "processes": result.processes, "note": NAMESPACE_NOTE}
    assert NAMESPACE_NOTE == (
        "in a PID namespace: NVML reports host PIDs, so our own cannot be told apart; run the container with --pid=host"
    )


def test_pids_none_of_which_exist_here_are_another_namespaces(monkeypatch, host):
    node = eight_gpu_node()
    node[2].processes, node[3].processes = [ABSENT], [ABSENT + 1]
    simulate(monkeypatch, *node)
    assert other_processes(gpus.all_gpus(), {os.getpid()}, **host) == ProcessCheck(
        None, [{"gpu": node[2].uuid, "pid": ABSENT}, {"gpu": node[3].uuid, "pid": ABSENT + 1}], NAMESPACE_NOTE
    )


def test_a_gpu_whose_processes_cannot_be_listed_is_not_judged(monkeypatch, host):
    node = eight_gpu_node()
    node[4].fail_once = {"nvmlDeviceGetComputeRunningProcesses": pynvml.NVML_ERROR_UNKNOWN}
    simulate(monkeypatch, *node)
    assert other_processes(gpus.all_gpus(), {os.getpid()}, **host) == ProcessCheck(
        None, [], f"compute processes could not be listed on {node[4].uuid}: Unknown Error"
    )
    node[5].processes = [1]  # a foreign process found elsewhere fails the check all the same
    assert other_processes(gpus.all_gpus(), {os.getpid()}, **host).ok is False
