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


@pytest.mark.parametrize(
    "flags, factor, moved",
    [
        ({"--years": 45.0}, "useful life", 45 / 54),  # 45 years + 20 % is past the 50 a user may give
        ({"--usd-per-gpu-hour": 9000.0}, "chip price", 1.2),  # the user's rate + 20 %, past its 10,000 cap
    ],
)
def test_a_factor_near_its_bound_still_moves_by_the_swing(flags, factor, moved):
    point = {"accelerator": "NVIDIA H100 80GB HBM3", "accelerator_count": 1, "power_w_priced": 700.0}
    a = load_assumptions(flags=flags)
    table = sensitivity(point | {"total_tok_s": 1000.0}, load_catalog(), a, swing=0.2).set_index("factor")
    if factor == "chip price":  # rented at the user's rate: $/M is the rate over the tokens
        assert table.loc[factor, "at_plus"] == pytest.approx(table.attrs["base"] * moved, rel=1e-12)
    else:  # the capital spread over 54 years in place of 45, the energy (700 W x PUE 1.58 x $0.08/kWh) unchanged
        energy, mtok_an_hour = 0.7 * 1.58 * 0.08, 3.6
        capital = table.attrs["base"] * mtok_an_hour - energy
        expected = (capital * moved + energy) / mtok_an_hour
        assert table.loc[factor, "at_plus"] == pytest.approx(expected, rel=1e-12)
