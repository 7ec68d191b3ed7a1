"""InferenceX's published rows (agg_bmk.json) priced at their own rates, on the GPUs they name.

The fixtures are real rows of InferenceMAX sweep runs' results_bmk artifacts (tests/fixtures/published/README.md).
"""

import json
import math

import pytest

from tests.support.cli import tokencost
from tests.support.published import PRESET, PUBLISHED, priced, refusal, written
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok

GPT_OSS = PUBLISHED / "inferencex-run_20218553330.json"  # h100, h200, b200 at TP 8, 2, 2
DSR1 = PUBLISHED / "inferencex-run_20613446912.json"  # h200 fp8, b200 fp8, b200 fp4
DISAGGREGATED = PUBLISHED / "inferencex-run_20764588467.json"  # gb200 1 prefill + 12 decode GPUs; b200-trt
MI300X = PUBLISHED / "inferencex-run_20720630953.json"


def tdp_hourly(key: str, gpus: int, nodes: int = 1) -> float:
    entry = find_hardware(key, load_catalog())
    return hourly_cost(gpus, entry, gpus * entry.tdp_w, load_assumptions(PRESET), nodes=nodes).total


@pytest.mark.parametrize("path", [GPT_OSS, DSR1, MI300X])
def test_each_row_is_priced_at_its_rates_times_its_gpus(path, tmp_path):
    rows = json.loads(path.read_text())
    table = priced(path, tmp_path)
    assert len(table) == len(rows)
    expected = {"h100": "h100-sxm", "h200": "h200", "b200": "b200", "mi300x": "mi300x"}
    by_key = {(r["hardware"], r["precision"], r["model"]): r for r in table}
    for row in rows:
        key = expected[row["hw"]]
        mine = by_key[key, row["precision"], row["model"]]
        gpus = row["tp"]
        assert mine["accelerator_count"] == gpus and mine["concurrency"] == row["conc"]
        assert mine["output_tok_s"] == pytest.approx(row["output_tput_per_gpu"] * gpus, rel=1e-12)
        assert mine["total_tok_s"] == pytest.approx(row["tput_per_gpu"] * gpus, rel=1e-12)
        assert mine["ttft_p50_ms"] == pytest.approx(row["median_ttft"] * 1000, rel=1e-12)
        assert mine["tpot_p50_ms"] == pytest.approx(row["median_tpot"] * 1000, rel=1e-12)
        assert mine["interactivity"] == pytest.approx(row["median_intvty"], rel=1e-9)
        assert (mine["isl"], mine["osl"], mine["engine"]) == (row["isl"], row["osl"], row["framework"])
        # No power published: the GPUs at TDP, the hour over the system's input + output tokens.
        assert mine["total_per_mtok_usd"] == pytest.approx(
            usd_per_mtok(tdp_hourly(key, gpus), row["tput_per_gpu"] * gpus),
            rel=1e-6,  # whole tokens in an hour
        )


def test_a_disaggregated_row_counts_prefill_and_decode_gpus(tmp_path):
    gb200 = next(r for r in json.loads(DISAGGREGATED.read_text()) if r["is_multinode"])
    (row,) = priced(DISAGGREGATED, tmp_path, "--gpu", "gb200")
    prefill, decode = gb200["num_prefill_gpu"], gb200["num_decode_gpu"]
    assert row["accelerator_count"] == prefill + decode
    # output per decode GPU, input + output per GPU of all (utils/process_result.py)
    assert row["output_tok_s"] == pytest.approx(gb200["output_tput_per_gpu"] * decode, rel=1e-12)
    assert row["total_tok_s"] == pytest.approx(gb200["tput_per_gpu"] * (prefill + decode), rel=1e-12)
    nodes = math.ceil((prefill + decode) / 4)  # GB200 trays of 4 GPUs
    assert row["nodes"] == nodes
    assert row["total_per_mtok_usd"] == pytest.approx(
        usd_per_mtok(tdp_hourly("gb200", prefill + decode, nodes), row["total_tok_s"]), rel=1e-6
    )


def test_the_table_shows_precision_and_the_source_with_its_token_definition():
    result = tokencost("price", DSR1)
    assert result.returncode == 0, result.stderr
    assert "precision" in result.stdout and "fp8" in result.stdout and "fp4" in result.stdout
    assert "Source: InferenceX (lmsysorg/sglang:" in result.stdout
    assert "Tokens: InferenceX: input + output tokens a second" in result.stdout.replace("\n  ", " ")


def test_gpu_chooses_the_rows_of_one_gpu(tmp_path):
    (row,) = priced(GPT_OSS, tmp_path, "--gpu", "H200")
    assert row["hardware"] == "h200"
    b200s = priced(DSR1, tmp_path, "--gpu", "b200")
    assert sorted(r["precision"] for r in b200s) == ["fp4", "fp8"]
    assert "mi300x served no row" in refusal(GPT_OSS, "--gpu", "mi300x")


def test_a_single_row_file_is_one_point(tmp_path):
    path = written(tmp_path / "agg_dsr1_fp8_mi300x.json", json.loads(MI300X.read_text())[0])
    (row,) = priced(path, tmp_path)
    assert row["hardware"] == "mi300x" and row["accelerator_count"] == 8


def test_a_gpu_the_catalog_lacks_is_named_in_one_line(tmp_path):
    rows = json.loads(GPT_OSS.read_text())
    rows[1]["hw"] = "rtx6000pro-nv_0"
    path = written(tmp_path / "agg_bmk.json", rows)
    error = refusal(path)
    assert "[1].hw" in error and "'rtx6000pro'" in error and "--gpu" in error
    assert [r["hardware"] for r in priced(path, tmp_path, "--gpu", "h100")] == ["h100-sxm"]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("tput_per_gpu", float("inf"), "is inf"),
        ("tput_per_gpu", -5.0, "is -5.0"),
        ("tput_per_gpu", "3281", "is '3281'"),
        ("output_tput_per_gpu", 0, "is 0"),
        ("median_tpot", True, "is True"),
        ("tp", 2.5, "is 2.5"),
        ("tp", 0, "is 0"),
        ("conc", None, "is None"),
        ("hw", "", "is ''"),
        ("precision", 8, "is 8"),
        ("p99_ttft", -1, "is -1"),
    ],
)
def test_a_damaged_row_is_refused_naming_its_field(tmp_path, field, value, said):
    rows = json.loads(MI300X.read_text())
    rows[0][field] = value
    path = written(tmp_path / "agg_bmk.json", rows)
    error = refusal(path)
    assert f"[0].{field}: {said}" in error


def test_nan_is_refused_where_the_file_is_read(tmp_path):
    rows = json.loads(MI300X.read_text())
    rows[0]["median_ttft"] = float("nan")
    path = written(tmp_path / "agg_bmk.json", rows)
    error = refusal(path)
    assert "median_ttft" in error and "NaN" in error


def test_an_output_rate_above_the_total_is_refused(tmp_path):
    rows = json.loads(MI300X.read_text())
    rows[0]["output_tput_per_gpu"] = rows[0]["tput_per_gpu"] * 2
    path = written(tmp_path / "agg_bmk.json", rows)
    assert "[0].output_tput_per_gpu: makes" in refusal(path)


def test_watts_and_gpus_are_refused_for_rows_of_their_own_gpus():
    assert "--watts:" in refusal(GPT_OSS, "--watts", "700")
    assert "--gpus: is one count" in refusal(GPT_OSS, "--gpus", "8")


def test_a_row_that_is_not_an_object_is_refused(tmp_path):
    path = written(tmp_path / "agg_bmk.json", [json.loads(MI300X.read_text())[0], 7])
    assert "[1]: is 7" in refusal(path)
