"""Fuzzing the priced tables `tokencost compare` reads: it returns, or raises a one-line UserError
(tests.support.fuzz)."""

from hypothesis import given

from tests.support.fuzz import FUZZ, raw, returns_or_user_error, write


# Priced tables given to `tokencost compare`.
@FUZZ
@given(raw)
def test_cost_tables(data):
    from tokencost.gate.compare import load_points
    from tokencost.pricing.assumptions import load_assumptions
    from tokencost.pricing.catalog import load_catalog
    from tokencost.pricing.priced_runs import Pricing

    pricing = Pricing.of(load_assumptions(None), load_catalog())
    returns_or_user_error(lambda: load_points(write(data, "costs.csv"), pricing, "BASELINE"))
