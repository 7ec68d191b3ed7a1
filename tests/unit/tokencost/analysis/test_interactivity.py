"""Serving points read along their fronts: cost at a target interactivity, and MoE vs dense there."""

import pandas as pd
import pytest

from tests.unit.tokencost.pricing.test_pareto import POINTS
from tokencost.analysis.interactivity import at_interactivity, serving_moe_vs_dense


def test_at_interactivity_per_group():
    priced = pd.concat(
        [
            POINTS.assign(model="m1", total_per_mtok_usd=POINTS["cost"], output_tok_s_per_gpu=100 / POINTS["cost"]),
            POINTS.assign(model="m2", total_per_mtok_usd=2 * POINTS["cost"], output_tok_s_per_gpu=50 / POINTS["cost"]),
        ]
    ).assign(hardware="h100-sxm", engine="vllm", isl=128, osl=128)
    table = at_interactivity(priced.reset_index(drop=True), [20.0])
    by_model = table.set_index("model")
    assert by_model.loc["m1", "$/M input+output"] == pytest.approx(1.5)
    assert by_model.loc["m2", "$/M input+output"] == pytest.approx(3.0)


def test_moe_vs_dense_at_the_same_interactivity_uses_the_overlap_of_the_fronts():
    dense = pd.DataFrame({"interactivity": [100.0, 150.0, 220.0], "total_per_mtok_usd": [1.0, 2.0, 4.0]})
    moe = pd.DataFrame({"interactivity": [70.0, 100.0, 160.0], "total_per_mtok_usd": [0.5, 1.5, 3.0]})
    priced = pd.concat(
        [
            dense.assign(model="d", kind="dense", pairs_with=None),
            moe.assign(model="m", kind="moe", pairs_with="d"),
        ],
        ignore_index=True,
    ).assign(hardware="h100-sxm", engine="vllm", isl=128, osl=128)
    table = serving_moe_vs_dense(priced)
    assert list(table["tok/s/user"]) == [100.0, 130.0, 160.0]  # overlap 100..160
    first = table.iloc[0]
    assert first["MoE $/M"] == pytest.approx(1.5) and first["dense $/M"] == pytest.approx(1.0)
    assert first["MoE / dense cost"] == pytest.approx(1.5)
    assert (table["MoE $/M"] / table["dense $/M"]).tolist() == pytest.approx(table["MoE / dense cost"].tolist())
