"""Least squares splits the hour only when its error is measured: 3 points (4 with an intercept)."""

import numpy as np
import pandas as pd
import pytest

from tokencost.pricing.split import fit_time_per_token, input_time_shares


def _points(mixes, seconds):
    base = {"model": "m", "accelerator": "gpu", "engine": "vllm", "batch_size": 8, "prefill_duration_s": np.nan}
    return pd.DataFrame([base | {"input_tokens": i, "output_tokens": o, "duration_s": seconds(i, o)} for i, o in mixes])


def exact(i, o):
    return 0.001 * i + 0.02 * o  # 1 ms an input token, 20 ms an output token


def test_two_points_fit_exactly_so_they_are_not_used():
    points = _points([(1000, 100), (4000, 100)], exact)
    assert fit_time_per_token(points) is None
    shares = input_time_shares(points)
    assert shares["input_time_share"].isna().all()
    assert (
        shares["split_method"] == "whole-hour (not split: 2 points of 2 mixes fit exactly, unverified; "
        "least squares needs 3 or more)"
    ).all()
    assert not shares["split_method"].str.contains("rms error").any()


def test_three_points_measure_the_error_of_the_fit():
    noisy = {(1000, 100): 3.1, (4000, 100): 6.0, (1000, 400): 9.0}  # exact would be 3, 6 and 9 s
    points = _points(noisy, lambda i, o: noisy[(i, o)])
    fit = fit_time_per_token(points)
    x, y = points[["input_tokens", "output_tokens"]].to_numpy(float), points["duration_s"].to_numpy()
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    # residual sum of squares over the 1 degree of freedom left, root, over the mean time
    assert fit.rms_error == pytest.approx(np.sqrt(np.sum((x @ [a, b] - y) ** 2) / 1) / y.mean())
    assert fit.rms_error > 0
    assert (
        input_time_shares(points).loc[0, "split_method"]
        == f"least-squares (n=3, no intercept, rms error {fit.rms_error:.1%})"
    )


def test_four_points_fit_a_fixed_time_per_point_too():
    mixes = [(1000, 100), (4000, 100), (1000, 400), (2000, 200)]
    points = _points(mixes, lambda i, o: 1.5 + exact(i, o))  # 1.5 s of batch fill and drain a point
    fit = fit_time_per_token(points)
    assert fit.intercept and fit.fixed_s == pytest.approx(1.5)
    assert (fit.per_input_s, fit.per_output_s) == (pytest.approx(0.001), pytest.approx(0.02))
    shares = input_time_shares(points)
    # the fixed time is spread pro rata: the share is the input's part of the per-token time
    assert shares.loc[0, "input_time_share"] == pytest.approx(1.0 / 3.0)
    assert (
        shares.loc[0, "split_method"] == "least-squares (n=4, intercept 1.5 s a point, spread pro rata, rms error 0.0%)"
    )


def test_a_negative_fixed_time_falls_back_to_the_fit_without_it():
    mixes = [(1000, 100), (4000, 100), (1000, 400), (2000, 200)]
    fit = fit_time_per_token(_points(mixes, lambda i, o: exact(i, o) - 0.5))  # a negative intercept: not physical
    assert not fit.intercept and fit.fixed_s == 0.0 and fit.rms_error > 0
