import pytest

from bench.energy.checks import check
from bench.energy.meters import EnergyReading
from bench.energy.sampler import Sample
from bench.run.record import Validity


def _reading(power=400.0, sampled=410.0, duration=60.0, method="nvml-counter"):
    return EnergyReading(method, "gpu", duration, power * duration, power, "test", [power * duration], [], sampled)


def _sample(reasons=0, temperature=60):
    return Sample(0.0, "GPU-0", 400.0, 400.0, "gpu", 1980, temperature, reasons)


def test_a_clean_point_passes_every_check():
    checks = check(_reading(), [_sample(temperature=55), _sample(temperature=66)], idle_power_w=70.0,
                   power_limit_w=700.0, min_window_s=30.0, other_processes=[])
    assert Validity.of(checks).all_ok is True
    assert checks["temperature_c"] == {"ok": None, "min": 55, "max": 66}


def test_each_problem_is_recorded_not_just_logged():
    checks = check(_reading(power=800.0, sampled=600.0, duration=5.0), [_sample(reasons=0x4 | 0x40)],
                   idle_power_w=70.0, power_limit_w=700.0, min_window_s=30.0,
                   other_processes=[{"gpu": "GPU-0", "pid": 4242}])
    assert Validity.of(checks).all_ok is False
    assert Validity.of(checks).failed() == ["window_length", "power_in_range", "counter_vs_sampled", "throttling",
                                            "other_processes"]
    assert checks["window_length"]["ok"] is False and checks["window_length"]["minimum_s"] == 30.0
    assert checks["power_in_range"]["ok"] is False and checks["power_in_range"]["ceiling_w"] == pytest.approx(770.0)
    assert checks["counter_vs_sampled"]["ok"] is False
    assert checks["throttling"] == {"ok": False, "reasons": ["hw-thermal-slowdown", "sw-power-cap"]}
    assert checks["other_processes"]["ok"] is False


def test_checks_that_cannot_be_judged_are_none_not_passed():
    checks = check(_reading(method="estimated", sampled=None), [], idle_power_w=None, power_limit_w=None,
                   min_window_s=1.0, other_processes=[])
    assert checks["power_in_range"]["ok"] is None and checks["counter_vs_sampled"]["ok"] is None
    assert checks["throttling"]["ok"] is None and Validity.of(checks).all_ok is True
