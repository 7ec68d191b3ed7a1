"""Cached and uncached input priced apart: two prefill probes give seconds per uncached and per cached input
token, the point's hits (vLLM's counters) weigh them, and the API is priced like for like.

The default workload_record: 4000 input tokens (2400 of them hits) and 1000 output tokens over 10 s; the
uncached probe takes 2.0 s for the 4000 prompt tokens, the cached one 0.9 s with 2400 hits.
"""

import numpy as np
import pandas as pd
import pytest

from tests.support.records_factory import point_record, workload_record
from tokencost.pricing.api_prices import blended_per_mtok, cached_input_price, find_api
from tokencost.pricing.split import WHOLE_HOUR, input_time_shares

T_U = 2.0 / 4000  # seconds per uncached input token
T_C = (0.9 - (4000 - 2400) * T_U) / 2400  # the cached probe's 1600 uncached tokens take 0.8 s; 0.1 s for 2400 hits


def _priced(pricing, *records) -> pd.DataFrame:
    return pricing.price(list(records)).offline


def test_seconds_per_uncached_and_cached_input_token_and_the_share(pricing):
    point = _priced(pricing, workload_record()).iloc[0]
    assert point["uncached_input_s_per_token"] == pytest.approx(0.0005, rel=1e-12)
    assert point["cached_input_s_per_token"] == pytest.approx(0.1 / 2400, rel=1e-9) == pytest.approx(T_C, rel=1e-12)
    # (4000 - 2400) x 0.5 ms + 2400 x 0.1/2400 s = 0.8 + 0.1 = 0.9 s of the point's 10 s
    assert point["input_time_share"] == pytest.approx(0.09, rel=1e-12)
    assert point["split_method"] == "prefill probes, uncached and cached (hits measured)"
    assert point["cached_input_tokens"] == 2400 and point["cached_input_basis"] == "measured"
    assert (point["prefix_hit_rate"], point["implied_hit_rate"]) == (0.6, 0.6)
    assert (point["workload_kind"], point["workload_label"]) == ("shared-prefix", "shared-prefix 4x384+128/128")


def test_the_points_hits_weigh_the_probes_not_the_probes_hits(pricing):
    point = _priced(pricing, workload_record(hits=1000)).iloc[0]
    assert point["input_time_share"] == pytest.approx((3000 * T_U + 1000 * T_C) / 10, rel=1e-12)
    assert point["input_time_share"] == pytest.approx(0.15416666666666667, rel=1e-12)


def test_cached_probe_faster_than_its_uncached_tokens_gives_cached_input_no_time(pricing):
    point = _priced(pricing, workload_record(cached_probe_s=0.5)).iloc[0]  # under the 0.8 s its 1600 tokens take
    assert point["cached_input_s_per_token"] == 0.0 and point["cached_input_per_mtok_usd"] == 0.0
    assert point["input_time_share"] == pytest.approx(0.08, rel=1e-12)


def test_hits_not_counted_fall_back_to_those_implied_and_the_method_says_so(pricing):
    point = _priced(pricing, workload_record(hits=None, implied_hits=2000)).iloc[0]
    assert point["cached_input_tokens"] == 2000 and point["cached_input_basis"] == "implied"
    assert point["split_method"] == (
        "prefill probes, uncached and cached (hits implied by the workload: vLLM counted none)"
    )
    assert point["input_time_share"] == pytest.approx((2000 * T_U + 2000 * T_C) / 10, rel=1e-12)
    assert np.isnan(point["prefix_hit_rate"])


def test_a_cached_probe_without_hits_cannot_price_the_points_hits(pricing):
    point = _priced(pricing, workload_record(cached_probe_hits=0)).iloc[0]
    assert np.isnan(point["cached_input_s_per_token"]) and np.isnan(point["cached_input_per_mtok_usd"])
    assert np.isnan(point["input_time_share"])
    assert point["split_method"] == "whole-hour (not split: the cached probe counted no prefix-cache hits)"
    # a point without hits needs no cached time: the uncached probe alone splits it
    point = _priced(pricing, workload_record(cached_probe_hits=0, hits=0)).iloc[0]
    assert point["input_time_share"] == pytest.approx(0.2, rel=1e-12)


def test_unknown_hits_are_not_split(pricing):
    record = workload_record().model_copy(update={"prefix_cache": None})
    point = _priced(pricing, record).iloc[0]
    assert np.isnan(point["input_time_share"])
    assert point["split_method"] == "whole-hour (not split: the point's prefix-cache hits are unknown)"


def test_uncached_cached_and_output_prices_add_up_to_the_points_spend(pricing):
    point = _priced(pricing, workload_record(hits=1000)).iloc[0]
    i, h, o = point["input_tokens"], point["cached_input_tokens"], point["output_tokens"]
    parts = (
        point["uncached_input_per_mtok_usd"] * (i - h)
        + point["cached_input_per_mtok_usd"] * h
        + point["output_per_mtok_usd"] * o
    ) / 1e6
    assert parts == pytest.approx(point["hourly_usd"] * point["duration_s"] / 3600, rel=1e-12)
    # and the blended input price is the uncached and cached prices weighted by their tokens
    blended = (point["uncached_input_per_mtok_usd"] * (i - h) + point["cached_input_per_mtok_usd"] * h) / i
    assert point["input_per_mtok_usd"] == pytest.approx(blended, rel=1e-12)
    # each price is the hourly cost per second times the seconds its tokens take, a million times
    assert point["uncached_input_per_mtok_usd"] == pytest.approx(point["hourly_usd"] / 3600 * T_U * 1e6, rel=1e-12)
    assert point["cached_input_per_mtok_usd"] == pytest.approx(point["hourly_usd"] / 3600 * T_C * 1e6, rel=1e-12)


def test_the_api_prices_the_points_hits_at_its_cached_input_price(pricing):
    api = find_api("gpt-4o-mini")  # $0.15 input, $0.075 cached input, $0.60 output per M
    assert (api.input_per_mtok_usd, api.cached_input_per_mtok_usd, api.output_per_mtok_usd) == (0.15, 0.075, 0.6)
    # 1600 uncached x 0.15 + 2400 cached x 0.075 + 1000 output x 0.6, over 5000 tokens
    assert blended_per_mtok(api, 4000, 1000, cached_tokens=2400) == pytest.approx(1020 / 5000, rel=1e-12)
    point = _priced(pricing, workload_record()).iloc[0]
    assert point["api"] == "gpt-4o-mini" and point["api_per_mtok_usd"] == pytest.approx(0.204, rel=1e-12)
    assert point["cost_vs_api"] == pytest.approx(point["total_per_mtok_usd"] / 0.204, rel=1e-12)


def test_an_api_without_a_cached_price_charges_hits_as_input_and_says_so():
    api = find_api("gemini-2.0-flash")
    assert api.cached_input_per_mtok_usd is None
    assert cached_input_price(api) == (0.10, "Gemini 2.0 Flash's input price (it publishes no cached-input price)")
    assert blended_per_mtok(api, 4000, 1000, cached_tokens=2400) == blended_per_mtok(api, 4000, 1000)
    assert cached_input_price(find_api("gpt-4o-mini")) == (0.075, "GPT-4o mini's cached-input price")


@pytest.mark.parametrize(("i", "o"), [(1000, 1000), (16, 16), (128, 7), (3, 100_000), (0.3, 0.7)])
def test_without_cached_tokens_the_api_blend_is_as_before(i, o):
    for api in (find_api("gpt-4o-mini"), find_api("gemini-2.0-flash")):
        before = (i * api.input_per_mtok_usd + o * api.output_per_mtok_usd) / (i + o)
        assert blended_per_mtok(api, i, o) == before  # exactly: the same floats
        assert blended_per_mtok(api.model_copy(update={"cached_input_per_mtok_usd": None}), i, o, 0) == before


def test_an_older_record_prices_as_before(pricing):
    """A random point without a workload kind, prefix cache or cached probe: the prefill-probe split as before."""
    point = _priced(pricing, point_record(prefill_s=2.5)).iloc[0]
    assert point["split_method"] == "prefill-probe" and point["input_time_share"] == 0.25
    assert (point["workload_kind"], point["workload_label"]) == ("random", "random 16/16")
    assert np.isnan(point["cached_input_tokens"])
    assert np.isnan(point["cached_input_per_mtok_usd"]) and np.isnan(point["prefix_hit_rate"])
    api = find_api("gpt-4o-mini")
    assert point["api_per_mtok_usd"] == (1000 * api.input_per_mtok_usd + 1000 * api.output_per_mtok_usd) / 2000
    # its probe measured uncached input alone: the uncached price is its input price
    assert point["uncached_input_per_mtok_usd"] == pytest.approx(point["input_per_mtok_usd"], rel=1e-12)


def test_the_random_floor_has_no_cached_probe_and_prices_as_a_prefill_probe_point(pricing):
    point = _priced(pricing, workload_record("random")).iloc[0]
    assert (point["workload_kind"], point["workload_label"]) == ("random", "random 512/128")
    assert point["split_method"] == "prefill-probe" and point["input_time_share"] == pytest.approx(0.2)
    assert point["prefix_hit_rate"] == 0.0 and point["cached_input_tokens"] == 0
    assert np.isnan(point["cached_input_per_mtok_usd"])


def _points(rows):
    base = {"model": "m", "accelerator": "gpu", "engine": "vllm", "batch_size": 8, "prefill_duration_s": np.nan}
    return pd.DataFrame([base | r for r in rows])


def _mixes(kind, label, seconds):
    return [
        {
            "workload_kind": kind,
            "workload_label": label(i, o),
            "input_tokens": i,
            "output_tokens": o,
            "duration_s": seconds(i, o),
        }
        for i, o in [(1000, 100), (4000, 100), (1000, 400)]
    ]


def test_least_squares_fits_random_across_lengths_and_never_mixes_workloads():
    random = _mixes("random", lambda i, o: f"random {i}/{o}", lambda i, o: 0.001 * i + 0.02 * o)
    shared = _mixes("shared-prefix", lambda i, o: "shared-prefix 4x96+32/128", lambda i, o: 0.0005 * i + 0.02 * o)
    other = _mixes("shared-prefix", lambda i, o: "shared-prefix 2x96+32/128", lambda i, o: 0.0002 * i + 0.02 * o)[:2]
    shares = input_time_shares(_points(random + shared + other))
    assert shares["split_method"][:6].str.startswith("least-squares (n=3, no intercept, rms error 0.0%").all()
    assert shares.loc[0, "input_time_share"] == pytest.approx(1.0 / 3.0)  # 1 s input, 2 s output: random's own fit
    assert shares.loc[3, "input_time_share"] == pytest.approx(0.5 / 2.5)  # 0.5 s input, 2 s output
    assert shares["split_method"][6:].str.startswith(WHOLE_HOUR.removesuffix(")")).all()  # 2 points: no fit
