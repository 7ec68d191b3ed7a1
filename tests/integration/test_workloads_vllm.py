"""Realistic workloads through real vLLM (CPU build here): prefix-cache hits measured, and what they do to cost.

One offline sweep runs the random floor, a shared-prefix mix, multi-turn sessions and a length mix on one
engine; one serving sweep replays a trace on its own schedule and runs multi-turn sessions with think time.
vLLM's CPU backend caches whole blocks of 128 tokens, so every shared part here is a multiple of 128.
"""

import pytest

from bench.inputs.trace import TraceSettings, load_trace, trace_stats
from bench.run.records import read_records
from tests.support.run_cli import tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

BATCH = 4
OFFLINE_SUITE = f"""
models = ["tiny-dense"]
engines = ["vllm"]
batch_sizes = [{BATCH}]
min_window_s = 0

[engine]
enforce_eager = true  # compiling takes about 30 s an engine on CPU; `make demo` runs the compiled default

[workload]
isl = 512
osl = 16

[[extra_workloads]]
kind = "shared-prefix"
isl = 512
osl = 16
shared_prefix = {{ prefixes = 2, prefix_len = 384 }}

[[extra_workloads]]
kind = "multi-turn"
isl = 256
osl = 16
multi_turn = {{ turns = 3, user_len = 112 }}

[[extra_workloads]]
kind = "lengths"
lengths = {{ input_mean = 200, output_mean = 16, input_max = 512, output_max = 32 }}
"""

TRACE = TraceSettings(max_requests=12, time_scale=4.0)
SERVE_SUITE = f"""
models = ["tiny-dense"]
mode = "serve"
min_window_s = 0

[engine]
enforce_eager = true  # compiling takes about 30 s an engine on CPU; `make demo` runs the compiled default

[serve]
concurrencies = [2]
requests_per_concurrency = 2

[workload]
kind = "trace"
trace = {{ max_requests = {TRACE.max_requests}, time_scale = {TRACE.time_scale} }}

[[extra_workloads]]
kind = "multi-turn"
isl = 256
osl = 8
multi_turn = {{ turns = 3, user_len = 120, think_time_s = 0.2 }}
"""


def _sweep(tmp_path_factory, name: str, suite_text: str):
    root = tmp_path_factory.mktemp(name)
    suite = root / "suite.toml"
    suite.write_text(suite_text)
    result = tokencost("run", "--suite", suite, "--out", root / "run", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {r.workload.kind or "random": r for r in read_records(root / "run")}, root / "run"


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    return _sweep(tmp_path_factory, "offline", OFFLINE_SUITE)


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    return _sweep(tmp_path_factory, "serve", SERVE_SUITE)


def test_the_random_floor_and_the_length_mix_never_hit_the_cache(offline):
    records, _ = offline
    for kind in ("random", "lengths"):
        cache = records[kind].prefix_cache
        assert records[kind].ok and cache.enabled and cache.salted
        assert cache.queries == records[kind].input_tokens and cache.hits == 0 and cache.implied_hits == 0
    assert records["random"].cached_prefill_probe is None and records["random"].prefill_probe.cached_tokens == 0


def test_a_shared_prefix_point_hits_the_cache_as_its_structure_implies(offline):
    record = offline[0]["shared-prefix"]
    cache = record.prefix_cache
    assert record.ok and not cache.salted and cache.block_size == 128
    # 2 prefixes of 3 blocks: every request after the first of its prefix reuses 384 of its 512 tokens.
    assert cache.implied_hits == (record.num_requests - 2) * 384
    assert cache.hit_rate == pytest.approx(cache.implied_hit_rate, abs=0.05)
    assert record.validity.checks["prefix_cache_hit_rate"].ok
    # the cached probe found each request's own whole blocks: 3 of its 4 (the last token is always computed)
    probe = record.cached_prefill_probe
    assert probe.cached_tokens == record.num_requests * 384 and record.prefill_probe.cached_tokens == 0
    assert probe.duration_s < record.prefill_probe.duration_s


def test_later_turns_of_a_session_hit_the_cache(offline):
    record = offline[0]["multi-turn"]
    cache = record.prefix_cache
    sessions = record.num_requests // 3
    assert record.num_requests % 3 == 0 and sessions >= BATCH
    # turn 2 reuses turn 1's 256-token prompt (2 blocks); turn 3 reuses turn 2's 384 (3 blocks)
    assert cache.implied_hits == sessions * (256 + 384)
    assert cache.hits > 0 and cache.hit_rate == pytest.approx(cache.implied_hit_rate, abs=0.05)
    assert record.workload.isl == round(record.input_tokens / record.num_requests)


def test_cached_input_costs_less_than_the_random_floor(offline):
    from tokencost.pricing.assumptions import load_assumptions
    from tokencost.pricing.catalog import load_catalog
    from tokencost.pricing.priced_runs import Pricing

    records, _ = offline
    table = Pricing.of(load_assumptions(None), load_catalog()).price(list(records.values())).offline
    row = table.set_index("workload_kind").loc
    assert row["shared-prefix", "input_per_mtok_usd"] < row["random", "input_per_mtok_usd"]
    assert row["shared-prefix", "cached_input_per_mtok_usd"] < row["shared-prefix", "uncached_input_per_mtok_usd"]


def test_a_trace_replays_its_requests_and_tokens_on_its_schedule(serving):
    records, run_dir = serving
    stats = trace_stats(load_trace(TRACE), TRACE.block_size)
    replayed = next(r for r in read_records(run_dir) if r.load.model == "open-loop trace replay")
    assert replayed.ok and replayed.requests_completed == stats["requests"] == 12
    assert replayed.input_tokens == stats["input_tokens"] and replayed.output_tokens == stats["output_tokens"]
    assert replayed.request_rate == pytest.approx(12 / (stats["duration_s"] / TRACE.time_scale))
    assert replayed.prefix_cache.hits > 0
    assert replayed.prefix_cache.hit_rate == pytest.approx(replayed.prefix_cache.implied_hit_rate, abs=0.05)


def test_served_sessions_hit_the_cache_after_their_think_time(serving):
    record = serving[0]["multi-turn"]
    assert record.ok and record.concurrency == 2 and record.requests_failed == 0
    assert record.num_requests % 3 == 0 and record.prefix_cache.hits > 0
    assert record.prefix_cache.hit_rate == pytest.approx(record.prefix_cache.implied_hit_rate, abs=0.05)
