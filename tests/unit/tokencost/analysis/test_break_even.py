"""Break-even volume by how the hours are paid for: owned (idle hours at idle power) and on-demand rental."""

import math

import pandas as pd
import pytest

from tokencost.analysis.versus_api import BREAK_EVEN_COLUMNS, break_even
from tokencost.pricing.assumptions import load_assumptions


def _owned_row(**overrides):
    # $1.90/h capital, 1,000 W busy and 100 W idle billed; 1,000 tok/s = 3.6 M tokens an hour
    row = {
        "model": "m",
        "batch_size": 8,
        "hourly_usd": 2.0,
        "capital_usd_per_h": 1.9,
        "hosting_usd_per_h": 0.0,
        "energy_usd_per_h": 0.1,
        "billed_power_w": 1000.0,
        "billed_idle_power_w": 100.0,
        "total_tok_s": 1000.0,
        "total_per_mtok_usd": 2.0 / 3.6,
        "api": "x",
        "api_per_mtok_usd": 1.0,
    }
    return pd.DataFrame([row | overrides])


def test_owned_break_even_charges_idle_hours_at_idle_power():
    a = load_assumptions(settings=["pue=1", "usd_per_kwh=0.1"])  # $0.0001 per Wh: busy $0.10/h, idle $0.01/h
    result = break_even(_owned_row(), a).iloc[0]
    # fixed $1.90 x 730 = $1,387 + idle $0.01 x 730 = $7.30; each M tokens saves $1 - ($0.10 - $0.01) / 3.6
    volume = (1.9 * 730 + 0.01 * 730) / (1.0 - 0.09 / 3.6)
    assert result["break_even_mtok_per_month"] == pytest.approx(volume) == pytest.approx(1430.05, abs=0.01)
    busy_hours = volume / 3.6  # the owner's bill at that volume equals the API's
    assert 1.9 * 730 + 0.1 * busy_hours + 0.01 * (730 - busy_hours) == pytest.approx(volume * 1.0)
    # below the 1,460 M tokens a month of a bill at busy power all month (the old, wrong, model)
    assert result["monthly_cost_usd"] == pytest.approx(1460)
    assert result["capacity_mtok_per_month"] == pytest.approx(2628)
    assert result["verdict"] == "self-hosting can pay off"
    assert list(break_even(_owned_row(), a).columns) == BREAK_EVEN_COLUMNS


def test_owned_break_even_never_comes_when_energy_alone_costs_more_than_the_api():
    a = load_assumptions(settings=["pue=1", "usd_per_kwh=0.1"])
    result = break_even(_owned_row(api_per_mtok_usd=0.02), a).iloc[0]  # the busy hour's marginal $0.025/M > $0.02
    assert math.isinf(result["break_even_mtok_per_month"])
    assert result["verdict"] == "the API is cheaper even at full load"


@pytest.mark.parametrize("api, word", [(1.0, "self-hosting is cheaper"), (0.5, "the API is cheaper")])
def test_on_demand_rental_has_no_break_even_volume(api, word):
    row = {
        "model": "m",
        "batch_size": 8,
        "hourly_usd": 2.0,
        "rental_usd_per_h": 2.0,
        "total_tok_s": 1000.0,
        "total_per_mtok_usd": 2.0 / 3.6,
        "api": "x",
        "api_per_mtok_usd": api,
    }
    result = break_even(pd.DataFrame([row]), load_assumptions("on-demand-rental")).iloc[0]
    assert math.isnan(result["break_even_mtok_per_month"]) and math.isnan(result["break_even_share_of_capacity"])
    assert result["verdict"] == (
        f"no break-even volume: on-demand rental is paid only while serving, so "
        f"self-hosting costs $0.5556/M at any volume against the API's ${api:g}/M: {word}"
    )
