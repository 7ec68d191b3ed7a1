"""vLLM's prefix-cache counters, from the engine's snapshot or a server's /metrics, and the hit-rate check."""

import pytest

from bench.run.prefix_cache import HIT_RATE_GAP, counters, counters_in_exposition, hit_rate_check, point_salt

# An excerpt of vLLM's /metrics (prometheus_client's text format) from a server with two engines.
EXPOSITION = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 0.0
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1.792e+03
vllm:prefix_cache_queries_total{engine="1",model_name="m"} 208.0
# HELP vllm:prefix_cache_queries_created Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_created gauge
vllm:prefix_cache_queries_created{engine="0",model_name="m"} 1.7337e+09
vllm:prefix_cache_queries_created{engine="1",model_name="m"} 1.7337e+09
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 1.28e+03
vllm:prefix_cache_hits_total{engine="1",model_name="m"} 0.0
# HELP vllm:prefix_cache_hits_created Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_created gauge
vllm:prefix_cache_hits_created{engine="0",model_name="m"} 1.7337e+09
vllm:prefix_cache_hits_created{engine="1",model_name="m"} 1.7337e+09
# HELP vllm:external_prefix_cache_queries_total External prefix cache queries from KV connector sharing.
# TYPE vllm:external_prefix_cache_queries_total counter
vllm:external_prefix_cache_queries_total{engine="0",model_name="m"} 5000.0
vllm:external_prefix_cache_hits_total{engine="0",model_name="m"} 4000.0
"""


def test_the_counters_of_a_servers_metrics_are_summed_over_engines():
    assert counters_in_exposition(EXPOSITION) == (2000, 1280)


def test_counters_without_labels_or_suffix_are_read_too():
    assert counters_in_exposition("vllm:prefix_cache_queries 10\nvllm:prefix_cache_hits 4\n") == (10, 4)


@pytest.mark.parametrize("dropped", ["vllm:prefix_cache_hits_total{", "vllm:prefix_cache_queries_total{"])
def test_a_missing_counter_gives_none(dropped):
    text = "\n".join(line for line in EXPOSITION.splitlines() if not line.startswith(dropped))
    assert counters_in_exposition(text) is None


def test_a_server_without_vllm_metrics_gives_none():
    assert counters_in_exposition("") is None
    assert counters_in_exposition("# HELP sglang:cache_hit_rate x\nsglang:cache_hit_rate 0.5\n") is None


def test_the_engine_snapshot_is_read_by_name_with_or_without_the_total_suffix():
    metrics = [
        ("vllm:prefix_cache_queries", 100),
        ("vllm:prefix_cache_hits", 30),
        ("vllm:prefix_cache_hits", 2),
        ("vllm:prefix_cache_queries_total", 5.0),
        ("vllm:num_requests_running", 3),
        ("vllm:prefix_cache_queries", None),
    ]  # a value that is not a number is left out
    assert counters(metrics) == (105, 32)
    assert counters([("vllm:prefix_cache_queries", 1)]) is None
    assert counters([]) is None


@pytest.mark.parametrize(
    "measured, implied, ok",
    [
        (0.5, 0.5, True),
        (0.15, 0.0, True),  # exactly the allowed gap
        (0.0, 0.15, True),
        (0.151, 0.0, False),
        (0.0, 0.151, False),
        (0.9, 0.6, False),
        (None, 0.5, None),
        (0.5, None, None),
        (None, None, None),
    ],
)
def test_the_hit_rate_check_allows_a_gap_of_015(measured, implied, ok):
    assert HIT_RATE_GAP == 0.15
    assert hit_rate_check(measured, implied) == {"ok": ok, "measured": measured, "implied": implied, "max_gap": 0.15}


def test_a_point_salt_is_stable_and_its_own():
    assert point_salt("tiny-dense/vllm/batch4/isl128/osl128") == 288715447  # CRC-32: the same in every process
    assert point_salt("a") == 3904355907
    keys = [
        "tiny-dense/vllm/batch1/isl128/osl128",
        "tiny-dense/vllm/batch4/isl128/osl128",
        "tiny-dense/vllm/batch4/shared-prefix-4x384-128-128",
        "tiny-moe/vllm/batch4/isl128/osl128",
    ]
    assert len({point_salt(k) for k in keys}) == len(keys)
    assert all(0 <= point_salt(k) < 2**32 for k in keys)
