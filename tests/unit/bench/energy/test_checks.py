import pytest

from bench.energy.checks import check
from bench.energy.meters import EnergyReading
from bench.energy.processes import NAMESPACE_NOTE, ProcessCheck
from bench.energy.sampler import Sample
from bench.run.record import Validity


def _reading(power=400.0, sampled=410.0, duration=60.0, method="nvml-counter"):
    return EnergyReading(method, "gpu", duration, power * duration, power, "test", [power * duration], [], sampled)


def _sample(reasons=0, temperature=60):
    return Sample(
        t=0.0,
        gpu="GPU-0",
        power_w=400.0,
        power_source="instant",
        power_instant_w=400.0,
        power_average_w=400.0,
        power_scope="gpu",
        sm_clock_mhz=1980,
        temperature_c=temperature,
        clock_event_reasons=reasons,
    )


def _check(samples, reading=None, processes=None):
    return check(
        reading or _reading(),
        samples,
        idle_power_w=70.0,
        power_limit_w=700.0,
        min_window_s=30.0,
        other_processes=processes or ProcessCheck(True),
    )


def test_a_clean_point_passes_every_check():
    checks = _check([_sample(temperature=55), _sample(temperature=66)])
    assert Validity.of(checks).all_ok is True
    assert checks["temperature_c"] == {"ok": None, "min": 55, "max": 66}
    assert checks["throttling"] == {"ok": True, "reasons": [], "fractions": {}, "samples_read": 2, "note": None}
    assert checks["other_processes"] == {"ok": True, "processes": [], "note": None}


def test_each_problem_is_recorded_not_just_logged():
    checks = _check(
        [_sample(reasons=0x4 | 0x40)],
        _reading(power=800.0, sampled=600.0, duration=5.0),
        ProcessCheck(False, [{"gpu": "GPU-0", "pid": 4242}]),
    )
    assert Validity.of(checks).all_ok is False
    assert Validity.of(checks).failed() == [
        "window_length",
        "power_in_range",
        "counter_vs_sampled",
        "throttling",
        "other_processes",
    ]
    assert checks["window_length"]["ok"] is False and checks["window_length"]["minimum_s"] == 30.0
    assert checks["power_in_range"]["ok"] is False and checks["power_in_range"]["ceiling_w"] == pytest.approx(770.0)
    assert checks["counter_vs_sampled"]["ok"] is False
    assert checks["throttling"] == {
        "ok": False,
        "reasons": ["hw-thermal-slowdown", "sw-power-cap"],
        "fractions": {"sw-power-cap": 1.0, "hw-thermal-slowdown": 1.0},
        "samples_read": 1,
        "note": None,
    }
    assert checks["other_processes"] == {"ok": False, "processes": [{"gpu": "GPU-0", "pid": 4242}], "note": None}


def test_checks_that_cannot_be_judged_are_none_not_passed():
    checks = check(
        _reading(method="estimated", sampled=None),
        [],
        idle_power_w=None,
        power_limit_w=None,
        min_window_s=1.0,
        other_processes=None,
    )
    assert checks["power_in_range"]["ok"] is None and checks["counter_vs_sampled"]["ok"] is None
    assert checks["throttling"] == {
        "ok": None,
        "reasons": [],
        "fractions": {},
        "samples_read": 0,
        "note": "no power samples in the window",
    }
    assert checks["other_processes"] == {"ok": True, "processes": [], "note": None}  # no GPU here to share
    assert Validity.of(checks).all_ok is True


def test_throttling_is_not_judged_when_no_sample_read_the_reasons():
    checks = _check([_sample(reasons=None), _sample(reasons=None)])
    assert checks["throttling"] == {
        "ok": None,
        "reasons": [],
        "fractions": {},
        "samples_read": 0,
        "note": "no sample could read clock-event reasons",
    }


def test_throttling_fractions_are_shares_of_the_samples_that_read_the_reasons():
    # 50 readable samples (and 2 unreadable, left out): power cap in 21, hw slowdown in 5, of which 2 also thermal.
    reasons = [0x4] * 16 + [0x4 | 0x8] * 3 + [0x4 | 0x8 | 0x20] * 2 + [0] * 29
    checks = _check([_sample(reasons=r) for r in reasons] + [_sample(reasons=None)] * 2)
    assert checks["throttling"] == {
        "ok": False,
        "reasons": ["hw-slowdown", "sw-power-cap", "sw-thermal-slowdown"],
        "fractions": {"sw-power-cap": 0.42, "hw-slowdown": 0.1, "sw-thermal-slowdown": 0.04},
        "samples_read": 50,
        "note": None,
    }


def test_a_power_cap_alone_is_informational_not_a_failure():
    checks = _check([_sample(reasons=0x4)] * 3 + [_sample(reasons=0x1)])  # 0x1 (GPU idle) is not a slowdown
    assert checks["throttling"]["ok"] is True and checks["throttling"]["fractions"] == {"sw-power-cap": 0.75}
    assert Validity.of(checks).all_ok is True


def test_hw_slowdown_fails_only_above_five_percent_of_samples_as_nvml_reports_it_at_clock_changes():
    once = _check([_sample(reasons=0x8)] + [_sample(reasons=0)] * 39)  # 2.5 %: one sample at a clock change
    assert (once["throttling"]["ok"], once["throttling"]["fractions"]) == (True, {"hw-slowdown": 0.025})
    often = _check([_sample(reasons=0x8)] * 3 + [_sample(reasons=0)] * 37)  # 7.5 %
    assert often["throttling"]["ok"] is False


@pytest.mark.parametrize(
    "bit, name",
    [
        (0x8, "hw-slowdown"),
        (0x20, "sw-thermal-slowdown"),
        (0x40, "hw-thermal-slowdown"),
        (0x80, "hw-power-brake-slowdown"),
    ],
)
def test_every_other_slowdown_fails_the_point(bit, name):
    checks = _check([_sample(reasons=bit), _sample(reasons=0), _sample(reasons=0), _sample(reasons=0)])
    assert (checks["throttling"]["ok"], checks["throttling"]["fractions"]) == (False, {name: 0.25})


def test_processes_in_a_pid_namespace_are_listed_but_not_judged():
    seen = [{"gpu": "GPU-0", "pid": 90210}]
    checks = _check([_sample()], processes=ProcessCheck(None, seen, NAMESPACE_NOTE))
    assert checks["other_processes"] == {"ok": None, "processes": seen, "note": NAMESPACE_NOTE}
    assert Validity.of(checks).all_ok is True and Validity.of(checks).checks["other_processes"].note == NAMESPACE_NOTE
