"""Which assumption moves $/M most."""

import pytest

from tokencost.analysis.sensitivity import sensitivity
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog


def test_sensitivity_ranks_factors_and_throughput_moves_cost_inversely():
    point = {
        "accelerator": "NVIDIA H100 80GB HBM3",
        "accelerator_count": 1,
        "power_w_priced": 700.0,
        "total_tok_s": 1000.0,
    }
    table = sensitivity(point, load_catalog(), load_assumptions("neocloud-owned"), swing=0.2)
    assert set(table["factor"]) == {
        "chip price",
        "useful life",
        "utilization",
        "electricity price",
        "PUE",
        "throughput",
    }
    assert list(table["swing_usd"]) == sorted(table["swing_usd"], reverse=True)
    row = table.set_index("factor").loc["throughput"]
    base = table.attrs["base"]
    assert row["at_minus"] == pytest.approx(base / 0.8) and row["at_plus"] == pytest.approx(base / 1.2)
    # throughput moves $/M by 1/0.8 - 1/1.2 = 41.7 % of the base; the chip price at most by 40 % (all of the
    # hourly cost were capital), so throughput leads
    assert table.iloc[0]["factor"] == "throughput"
    assert row["swing_share"] == pytest.approx(1 / 0.8 - 1 / 1.2)
