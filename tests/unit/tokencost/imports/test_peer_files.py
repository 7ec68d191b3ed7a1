"""AIPerf and GuideLLM result files read as serving records and priced at their own figures.

The fixtures are real outputs of the tools against the tiny model's vLLM CPU server (tests/fixtures/peers/README.md).
"""

import json
import math
import re

import pandas as pd
import pytest

from bench.errors import UserError
from tests.support import FIXTURES
from tests.support.cli import tokencost
from tokencost.imports.aiperf import read_aiperf
from tokencost.imports.guidellm import read_guidellm
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok

PEERS = FIXTURES / "peers"
AIPERF = PEERS / "aiperf-tiny-dense-conc2.json"
AIPERF_RATE = PEERS / "aiperf-tiny-dense-rate4.json"
GUIDELLM = PEERS / "guidellm-tiny-dense-conc2.json"
GUIDELLM_SWEEP = PEERS / "guidellm-tiny-dense-sweep.json"


def priced_rows(path, tmp_path, *args) -> list[dict]:
    csv = tmp_path / "costs.csv"
    result = tokencost("price", path, "--gpu", "h100-sxm", "--csv", csv, *args)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(csv).to_dict("records")


def tdp_hourly(gpus: int = 1) -> float:
    h100 = find_hardware("h100-sxm", load_catalog())
    return hourly_cost(gpus, h100, gpus * h100.tdp_w, load_assumptions(None)).total  # no power in the file: TDP


def test_an_aiperf_file_is_priced_at_its_own_figures(tmp_path):
    (row,) = priced_rows(AIPERF, tmp_path)
    data = json.loads(AIPERF.read_text())
    assert row["output_tok_s"] == data["output_token_throughput"]["avg"]
    assert row["total_tok_s"] == data["total_token_throughput"]["avg"]
    assert row["input_tokens"] == data["total_isl"]["avg"] and row["output_tokens"] == data["total_osl"]["avg"]
    assert row["ttft_p50_ms"] == data["time_to_first_token"]["p50"]
    assert row["tpot_p50_ms"] == data["inter_token_latency"]["p50"]
    assert row["e2e_p99_ms"] == data["request_latency"]["p99"]
    # The price divides the hour by AIPerf's own input and output throughput.
    tok_s = data["input_token_throughput"]["avg"] + data["output_token_throughput"]["avg"]
    assert row["total_per_mtok_usd"] == pytest.approx(usd_per_mtok(tdp_hourly(), tok_s), rel=1e-12)
    assert row["concurrency"] == 2 and row["load_model"] == "closed-loop concurrency"


def test_an_aiperf_rate_file_is_an_open_loop_point():
    record = read_aiperf(AIPERF_RATE, "h100-sxm", 1, None)
    phase = json.loads(AIPERF_RATE.read_text())["input_config"]["phases"][0]
    assert record.request_rate == phase["rate"] and record.concurrency is None
    assert "open loop" in record.engine.model_extra["arrivals"]


def test_an_aiperf_record_holds_the_files_figures():
    record = read_aiperf(AIPERF, "h100-sxm", 2, 650.0)
    data = json.loads(AIPERF.read_text())
    assert record.mode == "serve" and record.requests_completed == data["request_count"]["avg"]
    assert record.output_tok_s == data["output_token_throughput"]["avg"]
    assert record.latency_ms.tpot.median == data["inter_token_latency"]["p50"]
    assert record.latency_ms.itl.p99 == data["inter_chunk_latency"]["p99"]
    assert record.interactivity_tok_s_user == 1000 / data["inter_token_latency"]["p50"]
    assert record.hardware.accelerator_count == 2 and record.energy.method == "stated"
    assert record.energy.energy_j == pytest.approx(650.0 * record.duration_s)
    assert record.source.tool == f"aiperf {data['aiperf_version']}" and record.source.date == data["start_time"]
    assert record.engine.model_extra["token_counts"] == "the server's usage"


def test_a_guidellm_report_is_priced_at_its_own_figures(tmp_path):
    (row,) = priced_rows(GUIDELLM, tmp_path)
    (benchmark,) = json.loads(GUIDELLM.read_text())["benchmarks"]
    metrics = {
        name: m["successful"] for name, m in benchmark["metrics"].items() if isinstance(m, dict) and "successful" in m
    }
    assert row["output_tok_s"] == metrics["output_tokens_per_second"]["mean"]
    assert row["input_tokens"] == metrics["prompt_token_count"]["total_sum"]
    assert row["output_tokens"] == metrics["output_token_count"]["total_sum"]
    assert row["duration_s"] == benchmark["duration"]
    assert row["ttft_p50_ms"] == metrics["time_to_first_token_ms"]["median"]
    assert row["tpot_p50_ms"] == metrics["inter_token_latency_ms"]["median"]
    assert row["e2e_p50_ms"] == metrics["request_latency"]["median"] * 1000  # seconds in the report
    tok_s = metrics["prompt_tokens_per_second"]["mean"] + metrics["output_tokens_per_second"]["mean"]
    assert row["total_per_mtok_usd"] == pytest.approx(usd_per_mtok(tdp_hourly(), tok_s), rel=1e-12)
    assert row["concurrency"] == 2 and math.isnan(row["itl_p50_ms"])  # GuideLLM has no gaps between chunks


def test_a_guidellm_sweep_is_one_record_per_benchmark(tmp_path):
    benchmarks = json.loads(GUIDELLM_SWEEP.read_text())["benchmarks"]
    records = read_guidellm(GUIDELLM_SWEEP, "h100-sxm", 1, None)
    assert len(records) == len(benchmarks) >= 3
    for record, benchmark in zip(records, benchmarks):
        metrics = benchmark["metrics"]
        assert record.output_tok_s == metrics["output_tokens_per_second"]["successful"]["mean"]
        assert record.output_tokens == metrics["output_token_count"]["successful"]["total_sum"]
        assert record.latency_ms.ttft.median == metrics["time_to_first_token_ms"]["successful"]["median"]
        strategy = benchmark["config"]["strategy"]
        if strategy["type_"] == "synchronous":
            assert record.concurrency == 1
        elif strategy["type_"] == "constant":
            assert record.request_rate == strategy["rate"] and record.concurrency is None
    assert {b["config"]["strategy"]["type_"] for b in benchmarks} >= {"synchronous", "throughput", "constant"}
    rows = priced_rows(GUIDELLM_SWEEP, tmp_path)
    assert sorted(r["output_tok_s"] for r in rows) == sorted(r.output_tok_s for r in records)


DELETE = object()


def edit(keys, value=DELETE, rename=None):
    """A change to a parsed file: the value at `keys` set, deleted, or renamed to `rename`."""

    def change(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        if rename:
            target[rename] = target.pop(keys[-1])
        elif value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return data

    return change


B0 = ["benchmarks", 0]
HOSTILE = [  # (fixture, change, what the one-line error says)
    (AIPERF, edit(["total_osl"]), "total_osl.avg: is missing"),
    (AIPERF, edit(["time_to_first_token"], rename="ttft"), "time_to_first_token.p50: is missing"),
    (AIPERF, edit(["request_count"], "16"), "request_count: is '16'"),
    (AIPERF, edit(["output_token_throughput", "avg"], "fast"), "output_token_throughput.avg: is 'fast'"),
    (AIPERF, edit(["time_to_first_token", "p50"], float("nan")), "time_to_first_token.p50 is NaN, not a JSON number"),
    (AIPERF, edit(["output_token_throughput", "avg"], float("inf")), "output_token_throughput.avg: is inf"),
    (AIPERF, edit(["inter_token_latency", "p50"], -1.0), "inter_token_latency.p50: is -1.0"),
    (AIPERF, edit(["request_count", "avg"], True), "request_count.avg: is True"),
    (AIPERF, edit(["total_isl", "avg"], 1024.5), "total_isl.avg: is 1024.5; give a whole number"),
    (AIPERF, edit(["total_osl", "avg"], 0), "total_osl.avg: is 0"),
    (AIPERF, edit(["time_to_first_token", "unit"], "sec"), "time_to_first_token.unit: is 'sec'"),
    (AIPERF, edit(["input_config"]), "input_config.phases: is missing"),
    (AIPERF, edit(["input_config", "phases", 0, "concurrency"], "2"), "input_config.phases.concurrency: is '2'"),
    (
        GUIDELLM,
        edit([*B0, "metrics", "output_token_count"]),
        "benchmarks[0].metrics.output_token_count.successful.total_sum: is missing",
    ),
    (GUIDELLM, edit([*B0, "duration"], rename="elapsed"), "benchmarks[0].duration: is missing"),
    (
        GUIDELLM,
        edit([*B0, "metrics", "time_to_first_token_ms", "successful", "median"], float("nan")),
        "time_to_first_token_ms.successful.median is NaN, not a JSON number",
    ),
    (
        GUIDELLM,
        edit([*B0, "metrics", "output_tokens_per_second", "successful", "mean"], float("-inf")),
        "output_tokens_per_second.successful.mean is -Infinity, not a JSON number",
    ),
    (
        GUIDELLM,
        edit([*B0, "metrics", "output_token_count", "successful", "total_sum"], [256]),
        "output_token_count.successful.total_sum: is [256]",
    ),
    (GUIDELLM, edit([*B0, "config", "strategy", "streams"], "two"), "config.strategy.streams: is 'two'"),
    (GUIDELLM, edit([*B0, "config", "strategy", "type_"], "warp"), "config.strategy.type_: is 'warp'"),
    (GUIDELLM, edit(B0, "x"), "benchmarks[0]: is 'x'"),
    (GUIDELLM, edit(["benchmarks"], []), "benchmarks: is empty"),
]


@pytest.mark.parametrize(("fixture", "change", "message"), HOSTILE)
def test_a_damaged_file_is_refused_in_one_line(tmp_path, fixture, change, message):
    damaged = tmp_path / fixture.name
    damaged.write_text(json.dumps(change(json.loads(fixture.read_text()))))  # NaN and inf as JSON's NaN, Infinity
    result = tokencost("price", damaged, "--gpu", "h100-sxm")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert str(damaged) in result.stderr


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b'{"aiperf_version": '])
def test_an_empty_binary_or_cut_file_is_refused_in_one_line(tmp_path, content):
    bad = tmp_path / "profile_export_aiperf.json"
    bad.write_bytes(content)
    result = tokencost("price", bad, "--gpu", "h100-sxm")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert re.search(r"profile_export_aiperf\.json( line \d+)?: is (not valid JSON|binary, not text)", result.stderr)
    assert "AIPerf" in result.stderr and "GuideLLM" in result.stderr


@pytest.mark.parametrize("read", [read_aiperf, read_guidellm])
def test_a_directory_or_a_missing_gpu_is_refused(tmp_path, read):
    with pytest.raises(UserError, match="is a directory; give the path of a result file in it") as error:
        read(tmp_path, "h100-sxm", 1, None)
    assert "\n" not in str(error.value) and str(tmp_path) in str(error.value)
    with pytest.raises(UserError, match="--gpu"):
        read(AIPERF if read is read_aiperf else GUIDELLM, None, 1, None)


def test_each_reader_refuses_the_others_file():
    with pytest.raises(UserError, match="request_count.avg: is missing"):
        read_aiperf(GUIDELLM, "h100-sxm", 1, None)
    with pytest.raises(UserError, match="benchmarks: is missing"):
        read_guidellm(AIPERF, "h100-sxm", 1, None)


def test_price_without_gpu_names_the_option():
    for path in (AIPERF, GUIDELLM):
        result = tokencost("price", path)
        assert result.returncode == 2 and result.stderr.startswith("tokencost: error: --gpu: "), result.stderr
