import numpy as np
import pandas as pd
import pytest

from tokencost.pricing.split import OVERLONG_PROBE, WHOLE_HOUR, fit_time_per_token, input_time_shares


def _points(rows):
    base = {"model": "m", "accelerator": "gpu", "engine": "vllm", "batch_size": 8, "prefill_duration_s": np.nan}
    return pd.DataFrame([base | r for r in rows])


def test_prefill_probe_share_is_probe_time_over_point_time():
    shares = input_time_shares(
        _points([{"input_tokens": 100, "output_tokens": 100, "duration_s": 10.0, "prefill_duration_s": 2.5}])
    )
    assert shares.loc[0, "input_time_share"] == 0.25
    assert shares.loc[0, "split_method"] == "prefill-probe"


@pytest.mark.parametrize("probe_s", [10.0, 12.5])
def test_a_probe_as_long_as_its_point_does_not_price_output_at_zero(probe_s):
    shares = input_time_shares(
        _points([{"input_tokens": 100, "output_tokens": 100, "duration_s": 10.0, "prefill_duration_s": probe_s}])
    )
    assert np.isnan(shares.loc[0, "input_time_share"]) and shares.loc[0, "split_method"] == OVERLONG_PROBE


def test_least_squares_recovers_exact_per_token_times():
    # 1 ms per input token, 20 ms per output token
    rows = [
        {"input_tokens": i, "output_tokens": o, "duration_s": 0.001 * i + 0.02 * o}
        for i, o in [(1000, 100), (4000, 100), (1000, 400)]
    ]
    fit = fit_time_per_token(_points(rows))
    assert (fit.per_input_s, fit.per_output_s) == (pytest.approx(0.001), pytest.approx(0.02)) and fit.rms_error < 1e-9
    assert not fit.intercept  # 3 points fit 2 parameters with one degree of freedom left to measure the error
    shares = input_time_shares(_points(rows))
    assert shares.loc[0, "input_time_share"] == pytest.approx(1.0 / 3.0)
    assert shares.loc[0, "split_method"] == "least-squares (n=3, no intercept, rms error 0.0%)"


def test_serving_points_share_a_fit_only_at_the_same_concurrency():
    # at concurrency 4: 1 ms per input token, 10 ms per output token; at concurrency 16: 2 ms and 40 ms
    rows = [
        {
            "batch_size": None,
            "concurrency": c,
            "request_rate": None,
            "input_tokens": i,
            "output_tokens": o,
            "duration_s": a * i + b * o,
        }
        for c, a, b in ((4, 0.001, 0.01), (16, 0.002, 0.04))
        for i, o in [(1000, 100), (4000, 100), (1000, 400)]
    ]
    shares = input_time_shares(_points(rows))
    assert shares["split_method"].str.startswith("least-squares (n=3, no intercept, rms error 0.0%").all()
    assert shares.loc[0, "input_time_share"] == pytest.approx(1.0 / 2.0)  # 1 s of input, 1 s of output


def test_one_token_mix_cannot_be_split():
    rows = [{"input_tokens": 100 * k, "output_tokens": 100 * k, "duration_s": float(k)} for k in (1, 2)]
    shares = input_time_shares(_points(rows))
    assert shares["input_time_share"].isna().all()
    assert (shares["split_method"] == WHOLE_HOUR).all()
