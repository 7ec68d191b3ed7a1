"""The power sampler against simulated NVML: which power it reads, from where, and what a failed read changes."""

import json

import pynvml
import pytest

from bench.energy import gpus
from bench.energy import sampler as sampler_module
from bench.energy.meters import NvmlMeter
from bench.energy.sampler import PowerSampler
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu

INSTANT, AVERAGE = pynvml.NVML_FI_DEV_POWER_INSTANT, pynvml.NVML_FI_DEV_POWER_AVERAGE
GPU, MODULE = pynvml.NVML_POWER_SCOPE_GPU, pynvml.NVML_POWER_SCOPE_MODULE
UNKNOWN, NOT_SUPPORTED = pynvml.NVML_ERROR_UNKNOWN, pynvml.NVML_ERROR_NOT_SUPPORTED


def _sampler(monkeypatch, *simulated: SimulatedGpu):
    sim = simulate(monkeypatch, *simulated)
    return PowerSampler(gpus.all_gpus()), sim


def _power(s):
    return s.power_w, s.power_source, s.power_scope, s.power_instant_w, s.power_average_w


def _samples(sampler, sim, n, step=1.0):
    """n sampling instants, `step` seconds apart; the samples, in order."""
    for i in range(n):
        if i:
            sim.clock.sleep(step)
        sampler.sample_once()
    return sampler.samples


def test_an_instant_read_failing_once_leaves_the_scope_and_the_next_sample_has_power(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, power_w=300.0))
    sampler.sample_once()  # settles GPU scope
    sim.gpus[0].fail_once = {INSTANT: UNKNOWN}
    for _ in range(2):
        sim.clock.sleep(1.0)
        sampler.sample_once()
    first, failed, after = sampler.samples
    assert _power(first) == _power(after) == (300.0, "instant", "gpu", 300.0, 300.0)
    assert _power(failed) == (None, None, None, None, 300.0)  # no figure from another source either
    assert sampler.errors == {"power_instant": "Unknown Error"}
    # the gap is bridged: 300 W over the 2 s of the three samples
    assert sampler.energy_j(1000.0, 1002.0) == pytest.approx(600.0)


def test_a_failure_in_the_first_sample_settles_nothing(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, power_w=300.0, fail_once={(INSTANT, GPU): UNKNOWN}))
    failed, after, later = _samples(sampler, sim, 3)
    assert _power(failed) == (None, None, None, None, 300.0)
    assert _power(after) == _power(later) == (300.0, "instant", "gpu", 300.0, 300.0)  # not module scope
    assert sampler.errors == {"power_instant": "Unknown Error"}
    # once settled, only the GPU scope is asked
    assert pynvml.nvmlDeviceGetFieldValues.call_args.args[1] == [(INSTANT, GPU), (AVERAGE, GPU)]


def test_a_whole_field_read_failing_once_changes_nothing(monkeypatch):
    sampler, sim = _sampler(
        monkeypatch, SimulatedGpu(0, power_w=300.0, fail_once={"nvmlDeviceGetFieldValues": UNKNOWN})
    )
    failed, after = _samples(sampler, sim, 2)
    assert _power(failed) == (None, None, None, None, None)
    assert _power(after) == (300.0, "instant", "gpu", 300.0, 300.0)
    assert sampler.errors == {"power_fields": "Unknown Error"}


def test_module_scope_only_where_gpu_scope_is_not_supported_and_module_scope_works(monkeypatch):
    grace_hopper = SimulatedGpu(0, power_w=420.0, gpu_scope_power=False, fail_once={(INSTANT, MODULE): UNKNOWN})
    sampler, sim = _sampler(monkeypatch, grace_hopper)
    unsettled, settled, later = _samples(sampler, sim, 3)
    # GPU scope NOT_SUPPORTED but module scope failing: no switch yet; the average field settled on module
    assert _power(unsettled) == (None, None, None, None, 420.0)
    assert _power(settled) == _power(later) == (420.0, "instant", "module", 420.0, 420.0)
    assert sampler.errors == {
        "power_instant": "Unknown Error",
        "power_gpu_scope": "GPU-scope power not supported; using module scope",
    }
    assert pynvml.nvmlDeviceGetFieldValues.call_args.args[1] == [(INSTANT, MODULE), (AVERAGE, MODULE)]


def test_without_instant_power_the_average_field_is_integrated_and_the_reading_says_so(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, power_w=250.0, counter_supported=False, unsupported_fields=(INSTANT,)))
    meter = NvmlMeter(gpus.all_gpus())
    start = meter.snapshot()
    _samples(meter.sampler, sim, 5, step=2.5)
    reading = meter.reading(start, meter.snapshot())
    assert _power(meter.sampler.samples[-1]) == (250.0, "average-field", "gpu", None, 250.0)
    assert reading.method == "nvml-sampled" and reading.energy_j == pytest.approx(2500.0)
    assert reading.basis == (
        "1 s average power (NVML average field) sampled every 0.1 s, integrated over time, summed over 1 GPU(s)"
    )
    assert meter.sampler.errors == {"power_instant_field": "instant power field not supported at GPU or module scope"}


def test_without_either_power_field_power_usage_is_integrated_and_labelled(monkeypatch):
    sim = simulate(
        monkeypatch,
        SimulatedGpu(0, power_w=300.0, counter_supported=False),
        SimulatedGpu(1, power_w=150.0, unsupported_fields=(INSTANT, AVERAGE)),
    )
    meter = NvmlMeter(gpus.all_gpus())
    start = meter.snapshot()
    _samples(meter.sampler, sim, 3, step=5.0)
    reading = meter.reading(start, meter.snapshot())
    assert [_power(s) for s in meter.sampler.samples[-2:]] == [
        (300.0, "instant", "gpu", 300.0, 300.0),
        (150.0, "power-usage", None, None, None),
    ]
    assert reading.energy_j == pytest.approx(4500.0)  # 450 W over 10 s
    assert reading.basis.startswith(
        "instant power and average power from nvmlDeviceGetPowerUsage (1 s on Ampere "
        "and later) sampled every 0.1 s, integrated over time"
    )


def test_a_driver_without_field_values_falls_back_to_power_usage(monkeypatch):
    old = SimulatedGpu(0, power_w=200.0, fail_once={"nvmlDeviceGetFieldValues": pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})
    sampler, sim = _sampler(monkeypatch, old)
    assert [_power(s) for s in _samples(sampler, sim, 2)] == [(200.0, "power-usage", None, None, None)] * 2
    assert pynvml.nvmlDeviceGetFieldValues.call_count == 1  # not asked again
    assert sampler.errors == {"power_fields": "Function Not Found"}


def test_no_supported_power_reading_leaves_no_power_and_stops_asking(monkeypatch):
    sampler, sim = _sampler(
        monkeypatch, SimulatedGpu(0, unsupported_fields=(INSTANT, AVERAGE), power_usage_supported=False)
    )
    assert [_power(s) for s in _samples(sampler, sim, 3)] == [(None, None, None, None, None)] * 3
    assert pynvml.nvmlDeviceGetPowerUsage.call_count == 1 and pynvml.nvmlDeviceGetFieldValues.call_count == 1
    assert sampler.errors["power_usage"] == "Not Supported"
    assert sampler.energy_j(1000.0, 1002.0) is None


def test_power_usage_failing_once_is_asked_again(monkeypatch):
    gpu = SimulatedGpu(
        0, power_w=180.0, unsupported_fields=(INSTANT, AVERAGE), fail_once={"nvmlDeviceGetPowerUsage": UNKNOWN}
    )
    sampler, sim = _sampler(monkeypatch, gpu)
    assert [s.power_w for s in _samples(sampler, sim, 2)] == [None, 180.0]


def test_between_finds_exactly_the_samples_in_the_window(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0), SimulatedGpu(1))
    samples = _samples(sampler, sim, 2000, step=0.25)  # 4000 samples, 1000.0 .. 1499.75
    assert len(samples) == 4000
    for t0, t1 in [
        (1000.0, 1499.75),
        (1100.0, 1100.0),
        (1100.1, 1100.2),
        (1100.1, 1100.25),
        (999.0, 1000.0),
        (1250.25, 1250.75),
        (1499.75, 2000.0),
        (1500.0, 1600.0),
        (0.0, 999.9),
        (1300.0, 1200.0),
    ]:
        assert sampler.between(t0, t1) == [s for s in samples if t0 <= s.t <= t1], (t0, t1)
    assert len(sampler.between(1100.0, 1100.5)) == 6  # 1100.0, 1100.25, 1100.5 for two GPUs


def test_a_late_batch_still_lands_in_time_order(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0))
    _samples(sampler, sim, 3)
    sim.clock.now = 1001.5  # a batch timed before the last one was stored
    sampler.sample_once()
    assert [s.t for s in sampler.samples] == [1000.0, 1001.0, 1001.5, 1002.0]
    assert [s.t for s in sampler.between(1001.0, 1001.6)] == [1001.0, 1001.5]


def test_clock_event_reasons_fall_back_to_the_old_name_on_an_old_driver(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, clock_event_reasons=0x4 | 0x40, event_reasons_function=False))
    assert [s.clock_event_reasons for s in _samples(sampler, sim, 3)] == [0x44] * 3
    assert pynvml.nvmlDeviceGetCurrentClocksEventReasons.call_count == 1  # tried once, then the old name
    assert pynvml.nvmlDeviceGetCurrentClocksThrottleReasons.call_count == 3
    assert sampler.errors == {}


def test_clock_event_reasons_fall_back_to_the_old_name_in_old_bindings(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, clock_event_reasons=0x8))
    monkeypatch.delattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons")
    assert [s.clock_event_reasons for s in _samples(sampler, sim, 2)] == [0x8, 0x8]


def test_clock_event_reasons_unreadable_are_none_and_recorded(monkeypatch):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, event_reasons_function=False))
    monkeypatch.delattr(pynvml, "nvmlDeviceGetCurrentClocksThrottleReasons")
    assert [s.clock_event_reasons for s in _samples(sampler, sim, 2)] == [None, None]
    assert sampler.errors == {"clock_event_reasons": "Function Not Found"}


def test_the_bindings_are_looked_up_once(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0), SimulatedGpu(1))
    calls = []
    monkeypatch.setattr(sampler_module, "official_pynvml", lambda: calls.append(1) or pynvml)
    sampler = PowerSampler(gpus.all_gpus())
    for _ in range(5):
        sampler.sample_once()
    assert len(calls) == 1 and len(sampler.samples) == 10


def test_samples_are_saved_with_their_power_source(monkeypatch, tmp_path):
    sampler, sim = _sampler(monkeypatch, SimulatedGpu(0, power_w=310.0, unsupported_fields=(INSTANT,)))
    _samples(sampler, sim, 2)
    sampler.save(tmp_path / "timeline.jsonl", "p1", 1000.0, 1001.0)
    lines = [json.loads(line) for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
    assert lines[1] == {
        "point": "p1",
        "t": 1.0,
        "gpu": sim.gpus[0].uuid,
        "power_w": 310.0,
        "power_source": "average-field",
        "power_instant_w": None,
        "power_average_w": 310.0,
        "power_scope": "gpu",
        "sm_clock_mhz": 1980,
        "temperature_c": 45,
        "clock_event_reasons": 0,
    }


def test_a_power_field_is_read_as_the_type_nvml_says_it_holds():
    import pynvml

    from bench.energy.sampler import field_number

    field = pynvml.c_nvmlFieldValue_t()
    field.valueType, field.value.uiVal = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, 312_000
    assert field_number(field) == 312_000.0
    field.valueType, field.value.dVal = pynvml.NVML_VALUE_TYPE_DOUBLE, 312_000.5
    assert field_number(field) == 312_000.5  # read as uiVal, the double's bytes would be garbage
