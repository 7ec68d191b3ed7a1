"""`tokencost doctor` measures the host memory's bandwidth, on a CPU machine and on a GPU host alike (information:
it never decides whether a GPU run can start)."""

import pytest

from bench.energy.doctor import diagnose
from tests.conftest import REAL_GPU, simulate
from tests.support.nvml_sim import eight_gpu_node
from tests.unit.bench.energy.test_doctor import doctor_cli, plain_environment, text_of  # noqa: F401 (a fixture)


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
