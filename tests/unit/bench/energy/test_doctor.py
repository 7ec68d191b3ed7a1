import pytest

from bench.energy.doctor import diagnose
from tests.support.run_cli import tokencost
from tests.conftest import REAL_GPU, simulate
from tests.support.nvml_sim import SimulatedGpu


@pytest.mark.skipif(REAL_GPU, reason="describes a machine without a GPU")
def test_doctor_on_this_machine_reports_no_gpu_and_the_estimated_path():
    result = tokencost("doctor")
    assert result.returncode == 0, result.stderr
    assert "official NVIDIA bindings" in result.stdout
    assert "no NVIDIA driver or GPU" in result.stdout
    assert "GPUs found         0" in result.stdout
    assert "energy method      estimated (boundary cpu)" in result.stdout or "energy method      rapl" in result.stdout


def test_doctor_with_gpus_reports_counter_and_field_support(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0, power_w=310.0), SimulatedGpu(1, counter_supported=False, gpu_scope_power=False))
    found = dict(diagnose())
    assert found["GPUs found"] == "2"
    assert "driver 580.95.05" in found["NVML"]
    assert "supported" in found["energy counter"] and "NOT supported" in found["energy counter"]
    assert any("(module scope)" in v for k, v in found.items() if k.startswith("power fields"))
    assert found["energy method"].startswith("nvml-sampled (boundary gpu)")


@pytest.mark.gpu
def test_doctor_on_a_gpu_host_chooses_nvml():
    if not REAL_GPU:
        pytest.skip("needs a real NVIDIA GPU")
    assert dict(diagnose())["energy method"].startswith("nvml-")
