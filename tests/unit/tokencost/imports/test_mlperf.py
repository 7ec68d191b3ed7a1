"""MLPerf Inference's summary_results.json: its datacenter LLM results priced per output token, on their GPUs.

The fixture is 11 real rows of the v5.1 round's summary (tests/fixtures/published/README.md).
"""

import json

import pandas as pd
import pytest

from bench.errors import UserError
from tests.support.cli import tokencost
from tests.support.published import PRESET, PUBLISHED, priced, refusal, written
from tokencost.imports.mlperf import read_mlperf
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok

SUMMARY = PUBLISHED / "mlperf-inference-v5.1-summary.json"
LLM = 9  # of its 11 rows: the whisper (samples/s) and edge resnet rows are left out


def resolve(name: str) -> str:
    return find_hardware(name, load_catalog()).key


def test_each_llm_result_is_priced_per_output_token_on_all_its_gpus(tmp_path):
    rows = [r for r in json.loads(SUMMARY.read_text()) if r["Performance_Units"] == "Tokens/s"]
    table = priced(SUMMARY, tmp_path)
    assert len(table) == len(rows) == LLM
    a = load_assumptions(PRESET)
    by_point = {(r["workload_label"], r["hardware"], r["accelerator_count"]): r for r in table}
    for row in rows:
        key = resolve(row["Accelerator"])
        gpus = row["a#"] * row["Nodes"]
        mine = by_point[f"MLPerf {row['Model']} {row['Scenario']}", key, gpus]
        assert mine["output_tok_s"] == row["Performance_Result"] and mine["input_tokens"] == 0
        assert mine["precision"] == row["weight_data_types"] and mine["nodes"] == row["Nodes"]
        entry = find_hardware(key, load_catalog())
        hourly = hourly_cost(gpus, entry, gpus * entry.tdp_w, a, nodes=row["Nodes"]).total
        # Output tokens are all the tokens counted: $/M is the whole hour over them.
        assert mine["total_per_mtok_usd"] == pytest.approx(usd_per_mtok(hourly, row["Performance_Result"]), rel=1e-9)
        assert pd.isna(mine["input_per_mtok_usd"])


def test_a_record_carries_its_provenance_precision_scenario_and_token_definition():
    records = read_mlperf(SUMMARY, None, None, None, resolve)
    h100 = next(r for r in records if r.hardware.accelerator == "h100-sxm" and "Server" in r.workload.label)
    assert h100.source.version == "v5.1" and "result 5.1-0015, Cisco" in h100.source.tool
    assert h100.source.url.startswith("https://github.com/mlcommons/inference_results_v5.1/")
    assert "output" in h100.source.token_definition and "prompt tokens not counted" in h100.source.token_definition
    assert h100.engine.model_extra["precision"] == "fp8" and h100.engine.model_extra["scenario"] == "Server"
    assert h100.engine.name == "TensorRT" and h100.engine.version.startswith("TensorRT 10.8")
    assert h100.hardware.accelerator_count == 16 and len(h100.hardware.nodes) == 2
    row = json.loads(SUMMARY.read_text())[3]  # that result
    per_sample = float(row["Accuracy"].split("TOKENS_PER_SAMPLE:")[1].split()[0])  # its accuracy run's
    assert h100.workload.osl == round(per_sample) and h100.output_tok_s == row["Performance_Result"]
    assert h100.requests_per_s == pytest.approx(h100.output_tok_s / per_sample)


def test_benchmarks_with_a_model_card_are_priced_as_that_card():
    records = read_mlperf(SUMMARY, None, None, None, resolve)
    models = {r.workload.label.split()[1]: r.model for r in records}
    assert models["mixtral-8x7b"].name == "mixtral-8x7b" and models["mixtral-8x7b"].kind == "moe"
    assert models["llama3.1-8b"].name == "llama-3.1-8b"
    assert models["deepseek-r1"].name == "deepseek-ai/DeepSeek-R1"
    eight_b = next(r for r in records if r.model.name == "llama-3.1-8b")
    assert eight_b.workload.osl == 0 and eight_b.requests_per_s is None  # no tokens per sample published


def test_the_table_names_the_source_and_which_tokens_it_counts():
    result = tokencost("price", SUMMARY, "--gpu", "b200")
    assert result.returncode == 0, result.stderr
    text = result.stdout.replace("\n  ", " ")
    assert "Source: MLPerf Inference (v5.1). Tokens: MLPerf Inference: generated (output) tokens" in text
    assert "precision fp4" in text and "MLPerf deepseek-r1 Offline" in text


def test_gpu_chooses_the_rows_of_one_gpu(tmp_path):
    rows = priced(SUMMARY, tmp_path, "--gpu", "h100-sxm")
    assert {r["hardware"] for r in rows} == {"h100-sxm"} and len(rows) == 2
    assert "a100-80gb-sxm served no row" in refusal(SUMMARY, "--gpu", "a100-80gb-sxm")


def test_a_gpu_the_catalog_lacks_is_named_unless_gpu_leaves_it_out(tmp_path):
    rows = json.loads(SUMMARY.read_text())
    rows[6]["Accelerator"] = "NVIDIA GB300"
    path = written(tmp_path / "summary_results.json", rows)
    error = refusal(path)
    assert "[6].Accelerator: names GPU 'NVIDIA GB300'" in error and "--gpu" in error
    assert {r["hardware"] for r in priced(path, tmp_path, "--gpu", "b200")} == {"b200"}


def test_a_system_of_cpus_alone_is_left_out(tmp_path):
    rows = json.loads(SUMMARY.read_text())
    rows[1]["Accelerator"] = ""  # as the summary gives a CPU-only system
    path = written(tmp_path / "summary_results.json", rows)
    assert len(priced(path, tmp_path)) == LLM - 1


def test_a_summary_without_llm_results_is_refused(tmp_path):
    rows = [r for r in json.loads(SUMMARY.read_text()) if r["Performance_Units"] != "Tokens/s"]
    path = written(tmp_path / "summary_results.json", rows)
    assert "has no datacenter LLM result" in refusal(path)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("Performance_Result", 0, "is 0"),
        ("Performance_Result", -3.5, "is -3.5"),
        ("Performance_Result", "27803.9", "is '27803.9'"),
        ("Performance_Result", float("inf"), "is inf"),
        ("a#", 0, "is 0"),
        ("a#", 2.5, "is 2.5"),
        ("a#", "", "is ''"),
        ("Nodes", True, "is True"),
        ("Nodes", None, "is None"),
        ("Accelerator", 7, "is 7"),
        ("Model", 7, "is 7"),
    ],
)
def test_a_damaged_result_is_refused_naming_its_field(tmp_path, field, value, said):
    rows = json.loads(SUMMARY.read_text())
    rows[1][field] = value
    path = written(tmp_path / "summary_results.json", rows)
    assert f"[1].{field}: {said}" in refusal(path)


def test_watts_is_refused():
    with pytest.raises(UserError, match="--watts"):
        read_mlperf(SUMMARY, None, None, 700.0, resolve)
