"""Pricing math against values computed by hand."""

import math

import pytest

from bench.errors import UserError
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import capital_recovery_factor, hourly_cost, token_prices, usd_per_mtok


@pytest.fixture
def catalog():
    return load_catalog()


def test_two_dollars_an_hour_at_1000_tok_s():
    assert usd_per_mtok(2.00, 1000) == pytest.approx(0.5556, abs=1e-4)


def test_capital_recovery_factor_textbook_values():
    assert capital_recovery_factor(0, 4) == 0.25
    # 10 % over 5 years: 0.26380 (standard annuity tables)
    assert capital_recovery_factor(0.10, 5) == pytest.approx(0.263797, rel=1e-5)
    assert capital_recovery_factor(0.08, 4) == pytest.approx(0.301921, rel=1e-5)


def test_owned_h100_by_hand(catalog):
    h100 = find_hardware("NVIDIA H100 80GB HBM3", catalog)
    cost = hourly_cost(1, h100, busy_power_w=700, a=load_assumptions())
    # (27,500 GPU + 6,250 server share) / (4 years x 8760 h) = 0.963185 $/h
    # 0.7 kW x PUE 1.58 x 0.08 $/kWh = 0.08848 $/h; no hosting, no idle hours at utilisation 1
    assert cost.capital == pytest.approx(0.963185, rel=1e-5)
    assert cost.energy == pytest.approx(0.08848, rel=1e-9)
    assert cost.hosting == 0 and cost.rental == 0
    assert usd_per_mtok(cost.total, 1000) == pytest.approx(0.292129, rel=1e-5)


def test_neocloud_h100_with_idle_hours_and_hosting_by_hand(catalog):
    h100 = find_hardware("h100-sxm", catalog)
    cost = hourly_cost(2, h100, busy_power_w=1000, a=load_assumptions("neocloud-owned"))
    crf = 0.12 / (1 - 1.12**-4)  # 0.329234
    assert cost.capital == pytest.approx(2 * 33750 * crf / (8760 * 0.7), rel=1e-9)
    # the preset's node boundary adds the host's 2 x 670 W, busy and idle; idle GPUs: 2 x 60 W for 0.3/0.7
    # of a serving hour
    assert cost.energy == pytest.approx((1000 + 1340 + (120 + 1340) * 0.3 / 0.7) / 1000 * 1.42 * 0.08, rel=1e-9)
    # hosting: 2 x (0.7 kW TDP + 0.67 kW host) x $150/kW-month x 12 months / (8760 h x 0.7)
    assert cost.hosting == pytest.approx(2 * 1.37 * 150 * 12 / (8760 * 0.7), rel=1e-9)


def test_rented_hour_is_the_rate_over_utilisation(catalog):
    h200 = find_hardware("NVIDIA H200", catalog)
    # the median of the catalog's on-demand offers for H200 (RunPod 3.59 and 4.59, Nebius 4.50, AWS 7.91)
    assert hourly_cost(1, h200, 600, load_assumptions("on-demand-rental")).total == pytest.approx(4.545)
    assert hourly_cost(1, h200, 600, load_assumptions("inferencex-hyperscaler")).rental == pytest.approx(1.22)
    reserved = load_assumptions("reserved-rental")
    # InferenceX's 3-year rental for H100 (costr 2.00), the catalog's reserved rate
    assert hourly_cost(8, find_hardware("h100-sxm", catalog), 0, reserved).rental == pytest.approx(8 * 2.00 / 0.8)


def test_rental_only_hardware_cannot_be_priced_as_owned(catalog):
    with pytest.raises(UserError, match=r"^hardware a10g price_usd: is not in the catalog; use a rental preset"):
        hourly_cost(1, find_hardware("NVIDIA A10G", catalog), 300, load_assumptions())


def test_preset_rate_table_without_the_hardware(catalog):
    with pytest.raises(UserError, match="has no rate for l40s"):
        hourly_cost(1, find_hardware("l40s", catalog), 300, load_assumptions("inferencex-rental"))


def test_time_share_split_reproduces_the_spend():
    prices = token_prices(hourly_usd=3.6, input_tok_s=2000, output_tok_s=500, input_time_share=0.25)
    # per hour: 7.2 M input tokens carry $0.90, 1.8 M output tokens carry $2.70
    assert prices.input == pytest.approx(0.125) and prices.output == pytest.approx(1.5)
    assert prices.total == pytest.approx(3.6 / 9.0)
    assert 7.2 * prices.input + 1.8 * prices.output == pytest.approx(3.6)


def test_without_a_split_each_type_carries_the_whole_hour():
    prices = token_prices(hourly_usd=3.6, input_tok_s=2000, output_tok_s=500, input_time_share=None)
    assert prices.input == pytest.approx(0.5) and prices.output == pytest.approx(2.0)


def test_without_input_tokens_there_is_no_input_price():
    # Results that count output tokens only (MLPerf's): the whole hour over the output tokens, no input price.
    prices = token_prices(hourly_usd=3.6, input_tok_s=0, output_tok_s=500, input_time_share=None)
    assert prices.total == prices.output == pytest.approx(2.0) and math.isnan(prices.input)


@pytest.mark.parametrize("tok_s", [0, -5])
def test_non_positive_throughput_is_a_user_error(tok_s):
    with pytest.raises(UserError, match="^tokens per second: is"):
        usd_per_mtok(1.0, tok_s)
