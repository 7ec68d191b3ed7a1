import pandas as pd
import pytest

from tokencost.assumptions import load_assumptions
from tokencost.catalog import load_catalog
from tokencost.compare import break_even, threshold
from tokencost.sensitivity import sensitivity


def _priced(**overrides):
    row = {"model": "m", "batch_size": 8, "hourly_usd": 2.0, "total_tok_s": 1000.0,
           "total_per_mtok_usd": 2.0 / 3.6, "api": "x", "api_per_mtok_usd": 1.0}
    return pd.DataFrame([row | overrides])


def test_break_even_volume_by_hand():
    result = break_even(_priced(), load_assumptions()).iloc[0]
    # $2/h x 730 h = $1,460 a month; at $1/M the API costs the same at 1,460 M tokens a month,
    # and the GPU makes 1000 tok/s x 3600 x 730 = 2,628 M tokens a month
    assert result["monthly_cost_usd"] == pytest.approx(1460)
    assert result["break_even_mtok_per_month"] == pytest.approx(1460)
    assert result["capacity_mtok_per_month"] == pytest.approx(2628)
    assert result["verdict"] == "self-hosting can pay off"
    cheap_api = break_even(_priced(api_per_mtok_usd=0.1), load_assumptions()).iloc[0]
    assert cheap_api["verdict"] == "the API is cheaper even at full load"


def test_threshold_says_what_it_would_take():
    result = threshold(_priced()).iloc[0]
    assert not result["reached"]
    # $0.10/M at $2/h needs 2 / (0.1 x 0.0036) = 5,555.6 tok/s, 5.56x the measured 1000
    assert result["tok_s_needed"] == pytest.approx(5555.56, rel=1e-5)
    assert result["throughput_factor_needed"] == pytest.approx(5.5556, rel=1e-4)
    assert result["hourly_usd_needed"] == pytest.approx(0.36)


def test_sensitivity_ranks_factors_and_throughput_moves_cost_inversely():
    point = {"accelerator": "NVIDIA H100 80GB HBM3", "accelerator_count": 1, "power_w_priced": 700.0,
             "total_tok_s": 1000.0}
    table = sensitivity(point, load_catalog(), load_assumptions("neocloud-owned"), swing=0.2)
    assert set(table["factor"]) == {"chip price", "useful life", "utilization", "electricity price", "PUE", "throughput"}
    assert list(table["swing_usd"]) == sorted(table["swing_usd"], reverse=True)
    row = table.set_index("factor").loc["throughput"]
    base = table.attrs["base"]
    assert row["at_minus"] == pytest.approx(base / 0.8) and row["at_plus"] == pytest.approx(base / 1.2)
    assert table.iloc[0]["factor"] in ("throughput", "chip price")
