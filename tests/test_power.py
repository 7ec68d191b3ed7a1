"""Power meters. NVML tests run simulated here and unsimulated on a GPU (pytest -m gpu)."""

import time

import pytest

from bench.power import CpuEstimateMeter, NvmlMeter, gpu_info, make_meter, visible_gpu_handles
from tests.conftest import REAL_GPU

gpu = pytest.mark.gpu


@gpu
def test_nvml_window_energy_is_the_counter_difference_summed_over_gpus(nvml):
    handles = visible_gpu_handles()
    assert handles
    meter = NvmlMeter(handles)
    meter.begin()
    time.sleep(1.0)
    reading = meter.end()
    assert reading.method == "nvml-counter" and reading.boundary == "gpu" and reading.measured
    assert len(reading.per_device_j) == len(handles)
    assert reading.energy_j == pytest.approx(sum(reading.per_device_j))
    limits = [g["power_limit_w"] for g in gpu_info(handles)]
    assert 1.0 < reading.avg_power_w <= 1.1 * sum(limits)
    if not REAL_GPU:  # simulated: 300 W + 200 W, counter in 100 ms steps
        assert reading.avg_power_w == pytest.approx(500, rel=0.15)


@gpu
def test_window_shorter_than_the_counter_update_is_flagged_not_zero(nvml):
    if REAL_GPU:
        pytest.skip("a real counter may or may not tick inside 1 ms")
    meter = NvmlMeter(visible_gpu_handles())
    meter.begin()
    reading = meter.end()
    assert reading.energy_j is None and reading.avg_power_w is None
    assert "counter-window-too-short" in reading.flags


@gpu
def test_cuda_visible_devices_selects_gpus_by_uuid_or_index(nvml, monkeypatch):
    all_uuids = [g["uuid"] for g in gpu_info(visible_gpu_handles())]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", all_uuids[-1])
    assert [g["uuid"] for g in gpu_info(visible_gpu_handles())] == [all_uuids[-1]]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert [g["uuid"] for g in gpu_info(visible_gpu_handles())] == [all_uuids[0]]


@gpu
def test_gpu_info_records_what_makes_a_figure_traceable(nvml):
    info = gpu_info(visible_gpu_handles())
    assert info and all(g["name"] and g["uuid"].startswith("GPU-") and g["driver"] for g in info)
    assert all(g["power_limit_w"] > 0 for g in info)


def test_without_a_gpu_the_meter_is_an_estimate_that_says_so(no_gpu):
    assert visible_gpu_handles() == []
    meter = make_meter([], watts_per_vcpu=4.0)
    assert isinstance(meter, CpuEstimateMeter)
    meter.begin()
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:  # keep one CPU busy
        pass
    reading = meter.end()
    assert reading.method == "estimated" and not reading.measured and reading.boundary == "cpu"
    assert "W/vCPU (configured)" in reading.basis and "measured CPU utilisation" in reading.basis
    assert 0 < reading.avg_power_w <= meter.vcpus * 4.0
    assert reading.energy_j == pytest.approx(reading.avg_power_w * reading.duration_s)
