"""Self-hosting against an API: break-even volume and the $0.10/M threshold, by hand."""

import pandas as pd
import pytest

from tokencost.analysis.versus_api import break_even, threshold
from tokencost.pricing.assumptions import load_assumptions


def _priced(**overrides):
    row = {
        "model": "m",
        "batch_size": 8,
        "hourly_usd": 2.0,
        "total_tok_s": 1000.0,
        "total_per_mtok_usd": 2.0 / 3.6,
        "api": "x",
        "api_per_mtok_usd": 1.0,
    }
    return pd.DataFrame([row | overrides])


def test_break_even_volume_by_hand():
    # a fixed bill (a 3-year rental at utilisation 1; owned and on-demand hours: test_break_even.py):
    result = break_even(_priced(), load_assumptions("inferencex-rental")).iloc[0]
    # $2/h x 730 h = $1,460 a month; at $1/M the API costs the same at 1,460 M tokens a month,
    # and the GPU makes 1000 tok/s x 3600 x 730 = 2,628 M tokens a month
    assert result["monthly_cost_usd"] == pytest.approx(1460)
    assert result["break_even_mtok_per_month"] == pytest.approx(1460)
    assert result["capacity_mtok_per_month"] == pytest.approx(2628)
    assert result["verdict"] == "self-hosting can pay off"
    cheap_api = break_even(_priced(api_per_mtok_usd=0.1), load_assumptions("inferencex-rental")).iloc[0]
    assert cheap_api["verdict"] == "the API is cheaper even at full load"


def test_threshold_says_what_it_would_take():
    result = threshold(_priced()).iloc[0]
    assert not result["reached"]
    # $0.10/M at $2/h needs 2 / (0.1 x 0.0036) = 5,555.6 tok/s, 5.56x the measured 1000
    assert result["tok_s_needed"] == pytest.approx(5555.56, rel=1e-5)
    assert result["throughput_factor_needed"] == pytest.approx(5.5556, rel=1e-4)
    assert result["hourly_usd_needed"] == pytest.approx(0.36)
