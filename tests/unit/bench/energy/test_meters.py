"""Power meters. Simulated NVML here (exact joules from a fake clock); real NVML with pytest -m gpu."""

import pytest

from bench.energy import gpus
from bench.energy.meters import CpuEstimateMeter, NvmlMeter, RaplMeter, make_meter, rapl_zones
from tests.conftest import REAL_GPU, simulate
from tests.support.nvml_sim import SimulatedGpu


def _window(meter, clock, seconds, samples=3):
    """Snapshot, run `seconds` while sampling evenly, snapshot."""
    start = meter.snapshot()
    meter.sampler.sample_once()
    for _ in range(samples - 1):
        clock.sleep(seconds / (samples - 1))
        meter.sampler.sample_once()
    return meter.reading(start, meter.snapshot())


@pytest.mark.gpu
def test_counter_energy_is_summed_over_the_visible_gpus(nvml):
    sim, clock = nvml
    meter = NvmlMeter(gpus.visible_gpus({}))
    reading = _window(meter, clock, 10.0 if sim else 2.0)
    assert reading.method == "nvml-counter" and reading.boundary == "gpu" and reading.measured
    assert reading.energy_j == pytest.approx(sum(reading.per_device_j))
    limit = sum(g["power_limit_w"] for g in gpus.describe(meter.devices))
    assert 1.0 < reading.avg_power_w <= 1.1 * limit
    if sim:  # 300 W + 200 W for exactly 10 s
        assert reading.per_device_j == [pytest.approx(3000.0), pytest.approx(2000.0)]
        assert reading.energy_j == pytest.approx(5000.0) and reading.sampled_avg_power_w == pytest.approx(500.0)


@pytest.mark.gpu
def test_idle_baseline_is_the_average_power_over_the_wait(nvml):
    sim, _ = nvml
    idle = NvmlMeter(gpus.visible_gpus({})).idle_baseline(5.0 if sim else 1.0)
    assert idle > 0
    if sim:
        assert idle == pytest.approx(500.0)


def test_window_the_counter_did_not_see_tick_is_flagged_not_zero(sim):
    meter = NvmlMeter(gpus.visible_gpus({}))
    start = meter.snapshot()
    reading = meter.reading(start, meter.snapshot())
    assert reading.energy_j is None and reading.avg_power_w is None
    assert {"counter-window-too-short", "no-power-samples"} <= set(reading.flags)


def test_gpu_without_the_counter_falls_back_to_sampled_power(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, power_w=250.0, counter_supported=False), SimulatedGpu(1, power_w=150.0))
    meter = NvmlMeter(gpus.visible_gpus({}))
    assert meter.method == "nvml-sampled" and meter.counter_supported == [False, True]
    reading = _window(meter, sim.clock, 10.0, samples=5)
    assert reading.method == "nvml-sampled" and "counter-unavailable" in reading.flags
    assert reading.energy_j == pytest.approx(4000.0)  # 400 W constant, integrated over 10 s
    assert "integrated over time" in reading.basis


def test_counter_failing_mid_run_falls_back_to_sampled_power(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, power_w=300.0, fail_counter_after=1004.0))
    meter = NvmlMeter(gpus.visible_gpus({}))
    reading = _window(meter, sim.clock, 10.0)
    assert reading.method == "nvml-sampled" and "counter-unavailable" in reading.flags
    assert reading.energy_j == pytest.approx(3000.0)


def test_module_scope_power_is_used_where_gpu_scope_is_not_supported(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0, power_w=420.0, gpu_scope_power=False))
    meter = NvmlMeter(gpus.visible_gpus({}))
    meter.sampler.sample_once()
    sample = meter.sampler.samples[-1]
    assert (sample.power_scope, sample.power_instant_w, sample.power_average_w) == ("module", 420.0, 420.0)
    assert "power_gpu_scope" in meter.sampler.errors


def test_sampler_records_clock_temperature_and_clock_event_reasons(monkeypatch, tmp_path):
    sim = simulate(monkeypatch, SimulatedGpu(0, temperature_c=71, sm_clock_mhz=1755, clock_event_reasons=0x4))
    meter = NvmlMeter(gpus.visible_gpus({}))
    _window(meter, sim.clock, 1.0)
    sample = meter.sampler.samples[-1]
    assert (sample.temperature_c, sample.sm_clock_mhz, sample.clock_event_reasons) == (71, 1755, 0x4)
    meter.sampler.save(tmp_path / "timeline.jsonl", "p1", 1000.0, 1001.0)
    lines = (tmp_path / "timeline.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"point": "p1"' in lines[0] and '"t": 0.0' in lines[0]


def test_sampler_thread_runs_and_stops(nvml):
    sim, clock = nvml
    meter = NvmlMeter(gpus.visible_gpus({}))
    meter.sampler.interval_s = 0.01
    meter.start()
    import threading

    threading.Event().wait(0.1)  # real time, whatever the clock
    meter.stop()
    assert len(meter.sampler.samples) >= 2 * len(meter.devices)
    assert not meter.sampler._thread.is_alive()


def _rapl_tree(root, energy_uj, max_range=1_000_000):
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def test_rapl_counter_wraparound_is_handled(tmp_path, monkeypatch):
    sim = simulate(monkeypatch, driver_loaded=False)
    zone = _rapl_tree(tmp_path, 990_000)
    meter = make_meter([], rapl_root=tmp_path)
    assert isinstance(meter, RaplMeter)
    start = meter.snapshot()
    (zone / "energy_uj").write_text("30000\n")  # passed 1,000,000 and wrapped
    sim.clock.sleep(2.0)
    reading = meter.reading(start, meter.snapshot())
    assert reading.method == "rapl" and reading.boundary == "cpu" and reading.measured
    assert reading.energy_j == pytest.approx(0.04) and reading.avg_power_w == pytest.approx(0.02)


def test_unreadable_rapl_leaves_an_estimate_that_says_why(tmp_path, no_gpu):
    zones, why = rapl_zones(tmp_path / "missing")
    assert zones == [] and "does not exist" in why
    meter = make_meter([], watts_per_vcpu=4.0, rapl_root=tmp_path / "missing")
    assert isinstance(meter, CpuEstimateMeter)
    start = meter.snapshot()
    no_gpu.clock.sleep(1.0)
    reading = meter.reading(start, meter.snapshot())
    assert reading.method == "estimated" and not reading.measured and reading.boundary == "cpu"
    assert "W/vCPU (configured)" in reading.basis and "RAPL:" in reading.basis and "does not exist" in reading.basis
    assert 0 <= reading.avg_power_w <= meter.vcpus * 4.0


@pytest.mark.skipif(REAL_GPU, reason="a GPU host measures with NVML")
def test_this_machine_without_a_gpu_uses_rapl_where_readable_else_the_estimate_saying_why():
    zones, why = rapl_zones()
    meter = make_meter(gpus.visible_gpus())
    if zones:
        assert isinstance(meter, RaplMeter) and meter.zones == zones
    else:
        assert isinstance(meter, CpuEstimateMeter) and meter.why == f"no NVIDIA GPU, and RAPL: {why}"


def test_a_field_failing_on_its_own_leaves_the_others(monkeypatch):
    import pynvml

    simulate(monkeypatch, SimulatedGpu(0, power_w=333.0, unsupported_fields=(pynvml.NVML_FI_DEV_POWER_AVERAGE,)))
    meter = NvmlMeter(gpus.visible_gpus({}))
    meter.sampler.sample_once()
    sample = meter.sampler.samples[-1]
    assert (sample.power_instant_w, sample.power_average_w, sample.power_scope) == (333.0, None, "gpu")
