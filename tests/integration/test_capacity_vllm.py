"""A capacity search and repeated points through real vLLM's server (CPU build here)."""

import json

import pytest

from bench.run.records import read_records
from tests.support.run_cli import tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

SUITE = """
models = ["tiny-dense"]
mode = "serve"
min_window_s = 0

[engine]
enforce_eager = true  # compiling takes about 30 s an engine on CPU; `make demo` runs the compiled default

[workload]
isl = 64
osl = 32

[serve]
concurrencies = [1]
requests_per_concurrency = 2
repeats = 2
capacity = ["roomy", "impossible"]
capacity_max = 4
capacity_repeats = 2

[tiers.roomy]
ttft_ms = 600000
tpot_ms = 600000

[tiers.impossible]
percentile = 50
ttft_ms = 0.001
"""


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("capacity")
    (root / "suite.toml").write_text(SUITE)
    result = tokencost("run", "--suite", root / "suite.toml", "--out", root / "run", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcomes = {o["tier"]: o for o in map(json.loads, (root / "run" / "capacity.jsonl").read_text().splitlines())}
    return read_records(root / "run"), outcomes, result


def test_every_serving_record_says_which_tiers_it_kept(searched):
    records, _, _ = searched
    assert records and all(r.ok for r in records)
    for r in records:
        assert {"roomy", "impossible", "chat", "ix-50"} <= set(r.tiers)
        assert r.tiers["roomy"].met and r.tiers["roomy"].requests_within == r.requests_completed
        assert not r.tiers["impossible"].met and r.tiers["impossible"].why.startswith("p50 TTFT ")


def test_a_repeated_point_is_measured_that_many_times(searched):
    records, _, _ = searched
    first = [r for r in records if r.point == "tiny-dense/vllm-serve/conc1/isl64/osl32"]
    again = [r for r in records if r.point == "tiny-dense/vllm-serve/conc1/isl64/osl32/repeat1"]
    assert len(first) == len(again) == 1 and (first[0].repeat, again[0].repeat) == (0, 1)


def test_a_tier_kept_up_to_the_maximum_is_a_lower_bound_confirmed_by_repeats(searched):
    records, outcomes, result = searched
    roomy = outcomes["roomy"]
    assert roomy["status"] == "at-least" and roomy["capacity"] == 4 and roomy["first_failing"] is None
    assert roomy["tried"] == {"1": [True], "2": [True], "4": [True, True]}
    assert roomy["points"] == [
        "tiny-dense/vllm-serve/conc4/isl64/osl32",
        "tiny-dense/vllm-serve/conc4/isl64/osl32/repeat1",
    ]
    measured = {r.point for r in records}
    assert set(roomy["points"]) <= measured
    assert "meets tier roomy at 4 concurrent requests, the most tried: a lower bound" in result.stdout


def test_a_tier_no_load_keeps_is_said_plainly(searched):
    _, outcomes, result = searched
    impossible = outcomes["impossible"]
    assert impossible["status"] == "never" and impossible["capacity"] is None
    assert impossible["tried"] == {"1": [False, False]}  # the shared conc1 points, judged by both repeats
    assert "never meets tier impossible" in result.stdout + result.stderr
