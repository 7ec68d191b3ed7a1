"""Imported results that cannot be true fail a named check, are never "ok" and never on a Pareto front: the real
peer files as the tools wrote them, and copies edited to be implausible, priced through `tokencost price FILE`."""

import json

import pandas as pd
import pytest

from tests.support import FIXTURES
from tests.support.cli import tokencost
from tokencost.imports.aiperf import read_aiperf
from tokencost.imports.vllm_bench import read_vllm_bench
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.checks import failed_names
from tokencost.pricing.plausibility import checked_imports

PEERS = FIXTURES / "peers"
AIPERF = PEERS / "aiperf-tiny-dense-conc2.json"
AIPERF_RATE = PEERS / "aiperf-tiny-dense-rate4.json"
GUIDELLM = PEERS / "guidellm-tiny-dense-conc2.json"
GUIDELLM_SWEEP = PEERS / "guidellm-tiny-dense-sweep.json"
VLLM_BENCH = FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json"


def price(path, tmp_path, *args) -> tuple[str, list[dict]]:
    """What `tokencost price FILE --gpu h100-sxm` prints, and its rows."""
    csv = tmp_path / "costs.csv"
    result = tokencost("price", path, "--gpu", "h100-sxm", "--csv", csv, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout, pd.read_csv(csv).to_dict("records")


def edited(path, tmp_path, change) -> object:
    """A copy of a real file with `change` made to its parsed JSON."""
    data = json.loads(path.read_text())
    change(data)
    copy = tmp_path / path.name
    copy.write_text(json.dumps(data))
    return copy


def guidellm_metric(data, name, stat, value):
    data["benchmarks"][0]["metrics"][name]["successful"][stat] = value


@pytest.mark.parametrize("path", [AIPERF, AIPERF_RATE, GUIDELLM, VLLM_BENCH])
def test_the_real_files_pass_every_check(tmp_path, path):
    out, rows = price(path, tmp_path)
    assert [row["checks"] for row in rows] == ["ok"] and all(row["on_cost_front"] for row in rows)
    assert "Not plausible" not in out


def test_an_open_loop_point_idle_most_of_the_time_is_judged_at_its_busy_rate():
    # 362 tok/s per user against 285 tok/s for the system over the window: the system held 0.32 requests on average
    (record,) = checked_imports([read_aiperf(AIPERF_RATE, "h100-sxm", 1, None)], load_catalog())
    check = record.validity.checks["per_user_above_system"]
    assert record.interactivity_tok_s_user > record.total_tok_s and check.ok is True
    assert check.requests_in_flight == pytest.approx(0.3194, abs=1e-4)
    assert check.busy_system_tok_s == pytest.approx(record.total_tok_s / check.requests_in_flight)


def test_the_guidellm_point_with_merged_chunks_fails_and_leaves_the_front(tmp_path):
    # The sweep's throughput benchmark: 16,840 tok/s per user, 290 output tok/s for the whole system.
    out, rows = price(GUIDELLM_SWEEP, tmp_path)
    by_load = {row["concurrency"] if pd.notna(row["concurrency"]) else row["request_rate"]: row for row in rows}
    merged = by_load[4]
    assert merged["interactivity"] == pytest.approx(16840.1, abs=0.1) and merged["output_tok_s"] < 290
    assert merged["checks"] == "failed: per_user_above_system" and not merged["on_cost_front"]
    assert [row["checks"] for load, row in by_load.items() if load != 4] == ["ok", "ok"]
    assert all(row["on_cost_front"] for load, row in by_load.items() if load != 4)
    assert "tiny-dense/guidellm/conc4: per_user_above_system: 16,840 tok/s per user" in out.replace("\n    ", " ")
    table = out.split("\n\n")[0]
    assert "1 failed" in table and "Failed checks: per_user_above_system" in table


def test_a_per_user_rate_above_the_system_fails(tmp_path):
    merged = edited(GUIDELLM, tmp_path, lambda d: guidellm_metric(d, "inter_token_latency_ms", "median", 0.05))
    out, (row,) = price(merged, tmp_path)
    assert row["interactivity"] == pytest.approx(20000) and row["total_tok_s"] < 10000 / 2
    assert row["checks"] == "failed: per_user_above_system" and not row["on_cost_front"]


def big_model(data, tpot_ms):
    data |= {"model_id": "Qwen/Qwen3-32B", "median_tpot_ms": tpot_ms}


def test_a_tpot_below_the_bandwidth_floor_fails_for_that_model_and_gpu_count(tmp_path):
    # Qwen3-32B's weights at FP8 take 9.5 ms to read at one H100's 3.35 TB/s, 2.4 ms at four H100s'. (The tiny
    # model's throughput is above a 32B model's roofline too: the point also fails ceiling_too_low.)
    fast = edited(VLLM_BENCH, tmp_path, lambda d: big_model(d, 5.0))
    out, (row,) = price(fast, tmp_path)
    assert row["model"] == "qwen3-32b" and "tpot_below_bandwidth_floor" in failed_names(row["checks"])
    assert not row["on_cost_front"]
    assert "median TPOT 5 ms is below 9.55 ms, the time 1 x h100-sxm (3.35 TB/s) take to read qwen3-32b's" in (
        out.replace("\n    ", " ")
    )
    _, (four,) = price(fast, tmp_path, "--gpus", "4")
    assert four["checks"] == "ok" and four["on_cost_front"]
    slow = edited(VLLM_BENCH, tmp_path, lambda d: big_model(d, 12.0))
    assert "tpot_below_bandwidth_floor" not in failed_names(price(slow, tmp_path)[1][0]["checks"])


def test_the_floor_is_not_judged_for_a_model_without_a_card(tmp_path):
    unknown = edited(VLLM_BENCH, tmp_path, lambda d: d.update(model_id="someone/unknown-70b", median_tpot_ms=0.01))
    (record,) = checked_imports([read_vllm_bench(unknown, "h100-sxm", 1, None)], load_catalog())
    assert record.validity.checks["tpot_below_bandwidth_floor"].ok is None


@pytest.mark.parametrize(
    "path, change, why",
    [
        (AIPERF, lambda d: d["time_to_first_token"].update(p50=0.0), "ttft_p50_ms 0"),
        (AIPERF, lambda d: d["request_latency"].update(p50=10.0), "median E2E 10 ms below median TTFT 27.79 ms"),
        (GUIDELLM, lambda d: guidellm_metric(d, "request_latency", "mean", 0.0), "e2e_mean_ms 0"),
        (VLLM_BENCH, lambda d: d.update(request_throughput=0.0), "requests_per_s 0"),
    ],
)
def test_a_zero_time_or_a_request_ending_before_its_first_token_fails(tmp_path, path, change, why):
    out, (row,) = price(edited(path, tmp_path, change), tmp_path)
    assert "zero_or_negative_time" in row["checks"] and not row["on_cost_front"]
    assert why in out.replace("\n    ", " ")


@pytest.mark.parametrize(
    "path, change, message",
    [
        (VLLM_BENCH, lambda d: d.update(duration=-17.2), "duration: is -17.2"),
        (VLLM_BENCH, lambda d: d.update(duration=0), "duration: is 0"),
        (GUIDELLM, lambda d: d["benchmarks"][0].update(duration=-1.0), "benchmarks[0].duration: is -1.0"),
        (AIPERF, lambda d: d["output_token_throughput"].update(avg=-5.0), "output_token_throughput.avg: is -5.0"),
    ],
)
def test_a_negative_or_zero_duration_a_price_divides_by_is_refused_in_one_line(tmp_path, path, change, message):
    result = tokencost("price", edited(path, tmp_path, change), "--gpu", "h100-sxm")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr and result.stdout == ""
