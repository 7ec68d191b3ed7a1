"""Pareto fronts of cost and throughput against interactivity, and monotone interpolation along them."""

import numpy as np
import pandas as pd
import pytest

from tokencost.serving import at_interactivity, pareto_front, value_at

# (interactivity tok/s/user, $/M): C is dominated by B (B is both more interactive and cheaper).
POINTS = pd.DataFrame({
    "name": ["A", "B", "C", "D", "E"],
    "interactivity": [10.0, 20.0, 15.0, 40.0, 40.0],
    "cost": [1.0, 1.5, 2.0, 4.0, 5.0],
})


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


def test_at_interactivity_per_group():
    priced = pd.concat([
        POINTS.assign(model="m1", total_per_mtok_usd=POINTS["cost"], output_tok_s_per_gpu=100 / POINTS["cost"]),
        POINTS.assign(model="m2", total_per_mtok_usd=2 * POINTS["cost"], output_tok_s_per_gpu=50 / POINTS["cost"]),
    ]).assign(hardware="h100-sxm", engine="vllm", isl=128, osl=128)
    table = at_interactivity(priced.reset_index(drop=True), [20.0])
    by_model = table.set_index("model")
    assert by_model.loc["m1", "$/M tokens"] == pytest.approx(1.5)
    assert by_model.loc["m2", "$/M tokens"] == pytest.approx(3.0)


def test_dense_vs_moe_at_the_same_interactivity_uses_the_overlap_of_the_fronts():
    from tokencost.serving import dense_vs_moe

    dense = pd.DataFrame({"interactivity": [100.0, 150.0, 220.0], "total_per_mtok_usd": [1.0, 2.0, 4.0]})
    moe = pd.DataFrame({"interactivity": [70.0, 100.0, 160.0], "total_per_mtok_usd": [0.5, 1.5, 3.0]})
    priced = pd.concat([
        dense.assign(model="d", kind="dense", pairs_with=None),
        moe.assign(model="m", kind="moe", pairs_with="d"),
    ], ignore_index=True).assign(hardware="h100-sxm", engine="vllm", isl=128, osl=128)
    table = dense_vs_moe(priced)
    assert list(table["tok/s/user"]) == [100.0, 130.0, 160.0]  # overlap 100..160
    first = table.iloc[0]
    assert first["MoE $/M"] == pytest.approx(1.5) and first["dense $/M"] == pytest.approx(1.0)
    assert first["MoE / dense cost"] == pytest.approx(1.5)
    assert (table["MoE $/M"] / table["dense $/M"]).tolist() == pytest.approx(table["MoE / dense cost"].tolist())
