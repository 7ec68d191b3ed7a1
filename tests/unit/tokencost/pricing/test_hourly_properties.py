"""Properties of the cost model that must hold for any inputs (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.examples import examples
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import COMPONENTS, hourly_cost, token_prices, usd_per_mtok

CATALOG = load_catalog()
H100 = find_hardware("h100-sxm", CATALOG)
OWNED = [load_assumptions(p) for p in ("owned", "hyperscaler-owned", "neocloud-owned")]

tok_s = st.floats(min_value=1, max_value=1e6)
watts = st.floats(min_value=0, max_value=5000)
preset = st.sampled_from(OWNED)


@given(preset, watts, tok_s, st.floats(min_value=1.01, max_value=10))
def test_cost_falls_as_throughput_rises(a, w, t, factor):
    hourly = hourly_cost(1, H100, w, a).total
    assert usd_per_mtok(hourly, t * factor) < usd_per_mtok(hourly, t)


@given(preset, watts, st.floats(min_value=1.01, max_value=10))
def test_cost_rises_with_chip_price(a, w, factor):
    from dataclasses import replace

    dearer = replace(
        H100,
        figures={k: replace(f, value=f.value * factor) if k == "price_usd" else f for k, f in H100.figures.items()},
    )
    assert hourly_cost(1, dearer, w, a).total > hourly_cost(1, H100, w, a).total


@given(preset, watts, st.floats(min_value=0.5, max_value=10), st.floats(min_value=0.1, max_value=1))
def test_shortening_life_never_lowers_cost(a, w, life, shorter):
    longer = a.with_changes(life_years=life)
    shorter_life = a.with_changes(life_years=life * shorter)
    assert hourly_cost(1, H100, w, shorter_life).total >= hourly_cost(1, H100, w, longer).total


@given(st.sampled_from(OWNED + [load_assumptions("on-demand-rental")]), watts, st.integers(1, 16))
def test_components_sum_to_the_total_and_shares_to_one(a, w, units):
    cost = hourly_cost(units, H100, w, a)
    assert sum(getattr(cost, c) for c in COMPONENTS) == pytest.approx(cost.total)
    assert sum(cost.shares().values()) == pytest.approx(1.0)


@settings(max_examples=examples(200))
@given(st.floats(min_value=0.01, max_value=100), tok_s, tok_s, st.floats(min_value=0.01, max_value=0.99))
def test_input_and_output_attribution_reproduce_the_spend(hourly, input_tok_s, output_tok_s, share):
    prices = token_prices(hourly, input_tok_s, output_tok_s, share)
    spend = (input_tok_s * prices.input + output_tok_s * prices.output) * 3600 / 1e6
    assert spend == pytest.approx(hourly, rel=1e-9)
