"""Pareto fronts of cost and throughput against interactivity, and monotone interpolation along them."""

import numpy as np
import pandas as pd
import pytest

from tokencost.pricing.serving import pareto_front, value_at

# (interactivity tok/s/user, $/M): C is dominated by B (B is both more interactive and cheaper).
POINTS = pd.DataFrame(
    {
        "name": ["A", "B", "C", "D", "E"],
        "interactivity": [10.0, 20.0, 15.0, 40.0, 40.0],
        "cost": [1.0, 1.5, 2.0, 4.0, 5.0],
    }
)


def test_front_drops_dominated_points_and_ties():
    front = pareto_front(POINTS, "interactivity", "cost", higher_y_better=False)
    assert list(front["name"]) == ["A", "B", "D"]  # C dominated by B; E tied on x but dearer than D


def test_front_for_throughput_keeps_the_higher():
    tput = POINTS.rename(columns={"cost": "tput"}).assign(tput=[100.0, 80.0, 90.0, 10.0, 20.0])
    front = pareto_front(tput, "interactivity", "tput", higher_y_better=True)
    assert list(front["name"]) == ["A", "C", "B", "E"]


def test_interpolation_is_monotone_and_exact_at_points():
    front = pareto_front(POINTS, "interactivity", "cost", higher_y_better=False)
    assert value_at(front, "interactivity", "cost", 20.0) == pytest.approx(1.5)
    grid = np.linspace(10, 40, 301)
    values = [value_at(front, "interactivity", "cost", x) for x in grid]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))  # never turns back
    assert 1.0 <= min(values) and max(values) <= 4.0  # no overshoot beyond the measured costs


def test_outside_the_measured_range_is_not_extrapolated():
    front = pareto_front(POINTS, "interactivity", "cost", higher_y_better=False)
    assert np.isnan(value_at(front, "interactivity", "cost", 5.0))
    assert np.isnan(value_at(front, "interactivity", "cost", 41.0))


def test_a_point_that_cannot_be_true_is_never_on_a_front():
    # B's figures failed a plausibility check: without it A is the front's middle; C and the rest stay off
    checks = ["ok", "failed: per_user_above_system", "ok", "failed: ceiling_too_low", "ok"]
    front = pareto_front(POINTS.assign(checks=checks), "interactivity", "cost", higher_y_better=False)
    assert list(front["name"]) == ["A", "C", "D"]  # D failed a check that says nothing of its own figures
    assert pareto_front(POINTS.assign(checks=checks).iloc[[1]], "interactivity", "cost", higher_y_better=False).empty
