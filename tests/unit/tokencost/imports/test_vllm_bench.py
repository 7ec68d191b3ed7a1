"""A `vllm bench serve --save-result` file read as a serving record and priced like our own."""

import json

import pandas as pd
import pytest

from tests.support import FIXTURES
from tests.support.cli import tokencost
from tokencost.imports.vllm_bench import read_vllm_bench
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok

VLLM_BENCH = FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json"


def test_a_vllm_bench_serve_file_is_priced(tmp_path):
    """The file came from a real `vllm bench serve --save-result` run against the tiny model's server."""
    result = tokencost("price", VLLM_BENCH, "--gpu", "h100-sxm", "--gpus", "2", "--csv", tmp_path / "costs.csv")
    assert result.returncode == 0, result.stderr
    (row,) = pd.read_csv(tmp_path / "costs.csv").to_dict("records")
    data = json.loads(VLLM_BENCH.read_text())
    h100 = find_hardware("h100-sxm", load_catalog())
    hourly = hourly_cost(2, h100, 2 * h100.tdp_w, load_assumptions(None)).total  # no power in the file: TDP
    tok_s = data["total_input_tokens"] / data["duration"] + data["output_throughput"]
    assert row["total_per_mtok_usd"] == pytest.approx(usd_per_mtok(hourly, tok_s))
    assert row["interactivity"] == pytest.approx(1000 / data["median_tpot_ms"])
    assert row["ttft_p99_ms"] == pytest.approx(data["p99_ttft_ms"])
    assert row["concurrency"] == 16 and row["power_basis"] == "estimated-from-tdp"
    assert "not measured (power priced at TDP)" in row["label"]
    assert "tok/s/user" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--gpu: "),
        (["--gpu", "h100-sxm", "--watts", "0"], "--watts: is 0; give a positive number"),
    ],
)
def test_a_vllm_bench_file_needs_its_hardware(args, message):
    result = tokencost("price", VLLM_BENCH, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_broken_vllm_bench_file_is_refused(tmp_path):
    broken = tmp_path / "bench.json"
    broken.write_text(json.dumps({"duration": 3.0}))
    result = tokencost("price", broken, "--gpu", "h100-sxm")
    assert result.returncode == 2 and "is missing" in result.stderr and "vllm bench serve" in result.stderr
    broken.write_text("[]")  # JSON, but not an object
    result = tokencost("price", broken, "--gpu", "h100-sxm")
    assert (
        result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "not a JSON object" in result.stderr
    )


def test_the_file_becomes_one_serving_record_of_the_schema():
    record = read_vllm_bench(VLLM_BENCH, "h100-sxm", 1, 650.0)
    data = json.loads(VLLM_BENCH.read_text())
    assert record.mode == "serve" and record.concurrency == 16 and record.request_rate is None
    assert record.batch_size is None and record.requests_completed == data["completed"]
    assert record.energy.method == "stated" and record.energy.energy_j == pytest.approx(650.0 * data["duration"])
    assert record.latency_ms.tpot.median == data["median_tpot_ms"] and record.source.tool == "vllm bench serve"


def test_a_file_of_another_kind_is_refused_with_what_price_reads(tmp_path):
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps([{"total_per_mtok_usd": 1.0}]))
    result = tokencost("price", costs, "--gpu", "h100-sxm")
    assert result.returncode == 2 and "not a JSON object" in result.stderr and "vllm bench serve" in result.stderr
