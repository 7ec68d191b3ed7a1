"""`tokencost doctor` measures the host memory's bandwidth, on a CPU machine and on a GPU host alike (information:
it never decides whether a GPU run can start)."""

import pytest

from bench import memory_bandwidth
from bench.energy.doctor import diagnose
from bench.memory_bandwidth import GIB, MemoryBandwidth
from tests.conftest import REAL_GPU, simulate
from tests.support.nvml_sim import eight_gpu_node
from tests.unit.bench.energy.test_doctor import doctor_cli, plain_environment, text_of  # noqa: F401 (a fixture)
from tokencost.cli.main import main


def test_a_cpu_machine_prints_the_measured_bandwidth(no_gpu, capsys):
    code, lines = doctor_cli(capsys)
    assert code == 0
    line = next(line for line in lines if line.startswith("memory bandwidth "))
    text = line.removeprefix("memory bandwidth").strip()
    assert text.startswith("host DRAM ") and " GB/s, last-level cache " in text
    assert "(numpy copy of host memory in " in text and text.endswith("write-allocate traffic not)")


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_a_gpu_host_measures_host_memory_and_it_decides_nothing(monkeypatch, capsys):
    simulate(monkeypatch, *eight_gpu_node())
    found = next(f for f in diagnose(1) if f.item == "memory bandwidth")
    assert found.required_ok is None and "(numpy copy of host memory in " in found.text
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 0 and any(line.startswith("memory bandwidth ") for line in lines)


# The machine this ran on was busy: repeats far apart, and a load average of 6.5 on 2 cores.
BUSY = MemoryBandwidth(0.52, None, None, 2, GIB, None, "numpy copy", (0.5, 0.1, 0.52), (), 6.5, 2)


def test_a_busy_machine_gets_the_spread_and_a_warning_not_a_bare_figure(no_gpu, monkeypatch, capsys):
    monkeypatch.setattr(memory_bandwidth, "measure", lambda: BUSY)
    code, lines = doctor_cli(capsys)
    assert code == 0
    shown = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in lines}
    assert shown["bandwidth spread"] == (
        "DRAM min 0.1 / median 0.5 / max 0.5 GB/s over 3 repeats; load average 6.50 on 2 cores before the probe"
    )
    assert shown["bandwidth WARNING"].startswith("the machine is busy: the DRAM repeats spread 84% (max - min over ")
    assert "the load average 6.50 is above its 2 cores" in shown["bandwidth WARNING"]


def test_doctor_says_each_step_on_stderr_as_it_goes(no_gpu, monkeypatch, capsys):
    monkeypatch.setattr(memory_bandwidth, "measure", lambda: BUSY)
    assert main(["doctor"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "doctor: reading the NVIDIA driver and GPUs (NVML)",
        "doctor: asking torch what it sees, in a child process (up to 120 s)",
        "doctor: choosing the engine's GPUs and reading their energy counters and power",
        "doctor: looking for a C compiler, Python.h, the PID namespace and RAPL",
        "doctor: measuring the host memory's bandwidth (about 3 s)",
    ]
    assert "doctor:" not in out and out.startswith("nvidia-ml-py ")
