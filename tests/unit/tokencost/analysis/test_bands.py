"""Bands by regime: set on held-out published points, checked on points that did not set them, as documented."""

import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.unit.tokencost.cli.test_hostile_review import tokencost
from tokencost.analysis.bands import (
    FP8_FIT,
    HELD_OUT_DOC,
    LEVEL,
    MIN_POINTS,
    POOLABLE,
    all_points,
    band_for,
    band_of,
    bands,
    conformal,
    coverage,
    fit_fp8,
    fp8_fit_rows,
    held_out_errors,
    regime_summary,
    shipped_bands,
    summary_markdown,
    totals,
)
from tokencost.analysis.calibration import FITTED, fitted, measurements, shipped_calibrations
from tokencost.analysis.regimes import (
    BORROWED,
    KV_SATURATED,
    LONG,
    MID,
    MULTI_GPU,
    SMALL,
    Point,
    regime,
    saturated,
)
from tokencost.pricing.catalog import load_catalog

DOC = Path(__file__).parents[4] / "tokencost" / HELD_OUT_DOC


def point(**changes) -> Point:
    base = dict(
        borrowed=False,
        precision="bf16",
        gpus=1,
        batch=32,
        saturated=False,
        isl=1024,
        osl=1024,
        average_context=1536,
    )
    return Point(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({}, MID),
        ({"batch": 16}, SMALL),
        ({"batch": 1}, SMALL),
        ({"saturated": True}, KV_SATURATED),
        ({"average_context": 5000}, LONG),
        ({"isl": 8192, "osl": 1024, "average_context": 8704}, LONG),  # prefill-heavy
        ({"isl": 2048, "osl": 128, "average_context": 2112}, LONG),  # a long prompt that outweighs the output
        ({"gpus": 2, "saturated": True, "batch": 8}, MULTI_GPU),  # several GPUs before what they serve
        ({"precision": "fp8", "gpus": 2}, "fp8"),  # a precision before the GPU count
        ({"borrowed": True, "precision": "fp8"}, BORROWED),  # a borrowed calibration before everything
    ],
)
def test_each_point_gets_the_first_regime_that_applies(changes, name):
    assert regime(point(**changes)) == name


def test_a_batch_within_a_tenth_of_the_kv_limit_is_saturated():
    assert saturated(90, 100) and saturated(100, 100) and not saturated(89, 100) and not saturated(1, 0)


@pytest.fixture(scope="module")
def checked():
    errors = held_out_errors(shipped_calibrations(), load_catalog())
    return errors, coverage(errors)


def test_the_shipped_bands_are_what_the_held_out_points_give(checked):
    errors, _ = checked
    recomputed = {(b.gpu, b.regime): b for b in bands(errors)}
    assert set(recomputed) == set(shipped_bands())
    for key, band in shipped_bands().items():
        assert band.low == pytest.approx(recomputed[key].low, abs=1e-4)
        assert band.high == pytest.approx(recomputed[key].high, abs=1e-4)
        assert band.points == recomputed[key].points
        assert band.pooled == recomputed[key].pooled
        assert band.points >= MIN_POINTS


def test_the_held_out_coverage_the_document_states_is_what_the_committed_data_gives(checked):
    errors, with_checks = checked
    text = DOC.read_text()
    total = totals(with_checks)
    assert f"{total['points']} published points the serving model was not fitted on" in text
    assert f"{total['testable']} of them testable" in text
    assert (
        f"{total['coverage']:.0%} of those lie inside it, median band half-width {total['median_half_width']:.0%}"
        in text
    )
    assert summary_markdown(with_checks, bands(errors)) in text
    for gpu in ("h100-sxm", "b200"):
        part = totals(with_checks[with_checks["calibration"] == gpu])
        assert f"{gpu} {round(part['coverage'] * part['testable'])} of {part['testable']} inside" in text
    met = total["coverage"] >= 0.85 and total["median_half_width"] <= 0.25
    assert ("NOT met" in text) is not met


def test_no_point_sets_its_own_band_in_the_check(checked):
    errors, with_checks = checked
    for row in with_checks.to_dict("records"):
        others = errors[(errors["calibration"] == row["calibration"]) & (errors["series"] != row["series"])]
        band = band_of(row["calibration"], row["regime"], others)  # made without any point of its series
        if band is None:
            assert row["inside"] is None and pd.isna(row["check_low"])
            continue
        assert (row["check_low"], row["check_high"]) == (band.low, band.high)
        assert row["inside"] == (band.low <= row["ratio"] <= band.high)
    # a series alone in a regime that is not pooled (a borrowed calibration, FP8) cannot be checked
    summary = regime_summary(with_checks, bands(errors))
    lonely = summary[(summary["series"] == 1) & ~summary["regime"].isin(POOLABLE)]
    assert len(lonely) and (lonely["testable"] == 0).all()


def test_a_band_is_the_conformal_rank_of_the_abs_log_ratios():
    six = pd.Series([1.1, 0.9, 1.2, 0.5, 1.05, 1.3])  # n = 6: k = ceil(7 x 0.85) = 6, the largest
    assert conformal(six) == pytest.approx((0.5, 2.0))
    assert conformal(six.iloc[:5]) is None  # n = 5: k = 6 > n, no band
    nineteen = pd.Series(np.exp(np.arange(1, 20) / 100))  # n = 19: k = 17 exactly, not 18
    assert conformal(nineteen) == pytest.approx((np.exp(-0.17), np.exp(0.17)))
    assert MIN_POINTS == 6


def test_a_band_holds_its_level_on_points_drawn_alike():
    """Exchangeable points: a new one falls inside the band of the others LEVEL of the time or more (and not far
    more: the band is not padded)."""
    draws = np.random.default_rng(27).lognormal(0.05, 0.2, size=(4000, 11))
    inside = [conformal(pd.Series(d[:10])) for d in draws]
    hits = np.mean([low <= d[10] <= high for (low, high), d in zip(inside, draws)])
    assert LEVEL <= hits + 0.015 and hits < LEVEL + 0.08  # rank 10 of 11: 10/11 = 0.91 expected


def test_a_regime_with_too_few_series_takes_its_calibrations_pool(checked):
    errors, _ = checked
    h100 = errors[errors["calibration"] == "h100-sxm"]
    small = h100[h100["regime"] == SMALL]
    assert len(small) < MIN_POINTS  # too few for a band of its own
    pool = conformal(h100[h100["regime"].isin(POOLABLE)]["ratio"])
    band = shipped_bands()[("h100-sxm", SMALL)]
    assert band.pooled and (band.low, band.high) == pytest.approx(pool, abs=1e-6)
    assert not shipped_bands()[("h100-sxm", MULTI_GPU)].pooled  # 4 series, 23 points: its own
    assert ("h100-sxm", BORROWED) not in shipped_bands()  # one series, not pooled


def test_held_out_points_were_not_fitted(checked):
    errors, _ = checked
    chat = measurements()
    assert len(errors) == (len(all_points()) - 1)  # the FP8 fit's FP8 row is the one left out
    assert not (
        (errors["source"] == FP8_FIT[0]) & (errors["engine_version"] == FP8_FIT[1]) & (errors["precision"] == "fp8")
    ).any()
    assert (errors["source"] == "ML.ENERGY v3 LMArena chat").sum() < len(chat)
    assert {"ML.ENERGY v3 GPQA", "vllm-issue-17788", "vllm-issue-25915"} <= set(errors["source"])


def test_fp8_is_fitted_on_its_pair_and_shipped():
    catalog = load_catalog()
    h100 = fitted(measurements(), catalog)[0]
    refit = fit_fp8(h100, all_points(), catalog)
    shipped = shipped_calibrations()["h100-sxm"].precision_factor["fp8"]
    assert refit.precision_factor["fp8"] == pytest.approx(shipped, abs=1e-3)
    assert 0.3 < shipped < 1.0  # FP8 reaches less of its (halved) roofline than BF16 does
    assert fp8_fit_rows(all_points()).sum() == 2
    assert "fp8" not in shipped_calibrations()["b200"].precision_factor  # no B200 FP8 measurement


def test_fp8_on_h100_is_projected_with_its_fitted_factor_and_an_assumed_band(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "qwen3-8b", "--gpu", "h100-sxm", "--precision", "fp8", "--json"
    )
    assert code == 0, err
    rows = json.loads(out)["rows"]
    factor = shipped_calibrations()["h100-sxm"].precision_factor["fp8"]
    assert f"fp8 efficiency = BF16's x {factor:.2f}, fitted on one published fp8 measurement" in rows[0]["label"]
    assert all(r["regime"] == "fp8" and "ASSUMED" in r["band_basis"] for r in rows)
    assert all(r["projected_output_tok_s_low"] < r["projected_output_tok_s_high"] for r in rows)


def test_fp8_on_b200_stays_uncalibrated_and_says_so(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "qwen3-8b", "--gpu", "b200", "--precision", "fp8", "--json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert "UNCALIBRATED for fp8" in document["rows"][0]["label"]
    assert any("no fp8 measurement was fitted" in note for note in document["notes"])


def test_a_regime_without_held_out_data_says_so_in_words(capsys):
    assert band_for("h100-sxm", point(borrowed=True)) is None
    code, out, err = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h200", "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert all(r["regime"] == BORROWED for r in rows)
    assert all(r["band_basis"].startswith("no held-out data for this regime") for r in rows)
    assert all(r["projected_output_tok_s_low"] is None and r["projected_output_tok_s_high"] is None for r in rows)
    overall = shipped_calibrations()["h100-sxm"].held_out_error["dense"]
    assert all(r["error_band"] == pytest.approx(overall) for r in rows)  # the fallback, labelled as such


def test_a_given_efficiency_has_neither_band_nor_regime_band(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--efficiency", "0.5", "--json"
    )
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert all(r["projected_output_tok_s_low"] is None and r["band_basis"].startswith("no band") for r in rows)


def test_the_bands_are_in_the_fitted_file():
    data = tomllib.loads(resources.files("tokencost").joinpath(FITTED).read_text())
    assert {(b["gpu"], b["regime"]) for b in data["band"]} == set(shipped_bands())
