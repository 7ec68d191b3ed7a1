"""The shipped calibration is what its data gives, and its errors are what the held-out document says."""

import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from tokencost.analysis.bands import HELD_OUT_DOC
from tokencost.analysis.calibration import (
    FITTED,
    TARGET_ERROR,
    comparison,
    fit,
    measurements,
    readme_table,
    shipped_calibrations,
    training_rows,
)
from tokencost.pricing.catalog import load_catalog

DOC = Path(__file__).parents[4] / "tokencost" / HELD_OUT_DOC  # the README's calibration section links it


@pytest.fixture(scope="module")
def h100():
    points = measurements()
    calibration = fit(points, "h100-sxm", load_catalog())
    return calibration, comparison(points[points["gpu"] == "h100-sxm"], calibration, load_catalog())


def test_the_shipped_calibration_is_what_the_committed_data_fits(h100):
    shipped = shipped_calibrations()["h100-sxm"]
    calibration, _ = h100
    for kind in ("dense", "moe"):
        assert shipped.efficiency[kind] == pytest.approx(calibration.efficiency[kind], abs=1e-3)
        assert shipped.held_out_error[kind] == pytest.approx(calibration.held_out_error[kind], abs=1e-3)
    assert shipped.collective_latency_s == pytest.approx(calibration.collective_latency_s, rel=1e-2)
    assert shipped.step_overhead_s == pytest.approx(calibration.step_overhead_s, rel=1e-2)
    assert 0.2e-3 < shipped.step_overhead_s < 2e-3  # a step's fixed cost on an H100: about a millisecond
    assert shipped.sequence_overhead_s == pytest.approx(calibration.sequence_overhead_s, rel=1e-2)
    assert 5e-6 < shipped.sequence_overhead_s < 50e-6  # sampling and bookkeeping: tens of microseconds a sequence


def test_every_published_h100_point_is_within_the_target(h100):
    _, table = h100
    assert len(table) == 52
    worst = (table["ratio"] - 1).abs().max()
    assert worst <= TARGET_ERROR, table.loc[(table["ratio"] - 1).abs().idxmax()].to_dict()


def test_held_out_points_include_models_the_fit_never_saw(h100):
    _, table = h100
    held = table[~table["trained"]]
    assert {"qwen3-8b", "qwen3-32b"} <= set(held["model"])
    assert "qwen3-8b" not in set(table[table["trained"]]["model"])
    assert training_rows(measurements()).sum() < len(measurements()) / 2


def test_the_memory_limit_at_the_points_the_source_found_full(h100):
    _, table = h100
    capped = table[table["memory_capped"]].set_index(["model", "gpus"])
    # one GPU, no sharing of prompts between requests: the estimate lands within 5 %
    for key in [("qwen3-32b", 1), ("qwen3-30b-a3b", 1)]:
        assert capped.loc[key, "projected_max_batch"] == pytest.approx(capped.loc[key, "batch"], rel=0.05)
    # more room, more turns of one conversation in flight together, sharing their prefix: the estimate is low
    assert capped.loc[("llama-3.1-8b", 1), "projected_max_batch"] < capped.loc[("llama-3.1-8b", 1), "batch"]


def test_the_held_out_document_carries_the_table_and_the_errors():
    calibration = shipped_calibrations()["h100-sxm"]  # as shipped: the fit's, rounded as written
    points = measurements()
    table = comparison(points[points["gpu"] == "h100-sxm"], calibration, load_catalog())
    text = DOC.read_text()
    assert readme_table(table) in text
    for kind in ("dense", "moe"):
        assert f"{kind} +/-{calibration.held_out_error[kind]:.0%}" in text


def test_b200_is_shipped_with_its_larger_error_stated():
    b200 = shipped_calibrations()["b200"]
    assert max(b200.held_out_error.values()) > TARGET_ERROR  # dense misses the target on B200 (MoE: see the doc)
    text = DOC.read_text()
    assert all(f"+/-{e:.0%}" in text for e in b200.held_out_error.values())


def test_fitted_file_names_its_source():
    data = tomllib.loads(resources.files("tokencost").joinpath(FITTED).read_text())
    calibrations = {gpu: entry for gpu, entry in data.items() if gpu != "band"}
    assert set(calibrations) == {"h100-sxm", "b200"}
    assert all(re.search(r"ml-energy/leaderboard @0cd52dab", entry["source"]) for entry in calibrations.values())


def test_the_docs_carry_the_held_out_summary_and_table_as_written():
    """docs/calibration.md repeats what `python -m tokencost.analysis.bands` wrote: a refit that changes the
    coverage, a band or a width must be copied there too."""
    page = (Path(__file__).parents[4] / "docs" / "calibration.md").read_text()
    held_out = DOC.read_text()
    summary = [
        part
        for part in held_out.split("\n\n")
        if "points the serving model was not fitted on" in part or part.startswith(("By calibration:", "| calibration"))
    ]
    assert len(summary) == 3 and all(part in page for part in summary)
