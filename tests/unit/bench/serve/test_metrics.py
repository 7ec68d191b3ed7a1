"""Serving metrics on hand-made timelines, against values worked out by hand."""

import math

import pytest

from bench.serve.metrics import (
    MIN_STEADY_READS,
    RequestTiming,
    Slo,
    distribution_ms,
    max_in_flight,
    steady_window,
    summarize,
    tokens_between,
)


def request(sent, arrivals, end, prompt=10, output=None):
    return RequestTiming(sent=sent, end=end, arrivals=arrivals, prompt_tokens=prompt,
                         output_tokens=output if output is not None else sum(n for _, n in arrivals))


# Two requests of 5 tokens each.
# A: sent 0.0, tokens at 0.1, 0.2, 0.3, 0.4, 0.5, ends 0.5 -> TTFT 100 ms, E2E 500 ms, TPOT (500-100)/4 = 100 ms.
# B: sent 0.2, tokens at 0.5, 0.55 (2 tokens in one chunk), 0.6, 0.7 -> TTFT 300 ms, E2E 500 ms, TPOT 200/4 = 50 ms.
A = request(0.0, [(0.1, 1), (0.2, 1), (0.3, 1), (0.4, 1), (0.5, 1)], 0.5)
B = request(0.2, [(0.5, 1), (0.55, 2), (0.6, 1), (0.7, 1)], 0.7)


def test_per_request_metrics():
    assert A.ttft == pytest.approx(0.1) and A.e2e == pytest.approx(0.5) and A.tpot == pytest.approx(0.1)
    assert B.ttft == pytest.approx(0.3) and B.e2e == pytest.approx(0.5) and B.tpot == pytest.approx(0.05)
    assert B.itls == pytest.approx([0.05, 0.05, 0.1])


def test_summary_against_hand_computed_values():
    m = summarize([A, B], Slo(ttft_ms=200, tpot_ms=150))
    assert m.completed == 2 and m.failed == 0
    assert m.duration_s == pytest.approx(0.7)  # first send 0.0 to last end 0.7
    assert m.output_tokens == 10 and m.input_tokens == 20
    assert m.output_tok_s == pytest.approx(10 / 0.7)
    assert m.total_tok_s == pytest.approx(30 / 0.7)
    assert m.requests_per_s == pytest.approx(2 / 0.7)
    ttft = m.latency_ms.ttft
    assert ttft.mean == pytest.approx(200) and ttft.median == pytest.approx(200)
    assert ttft.p90 == pytest.approx(100 + 0.9 * 200)  # linear between 100 and 300
    assert ttft.p99 == pytest.approx(100 + 0.99 * 200)
    tpot = m.latency_ms.tpot
    assert tpot.median == pytest.approx(75)
    assert m.interactivity_tok_s_user == pytest.approx(1000 / 75)
    assert m.interactivity_p90_tok_s_user == pytest.approx(1000 / (50 + 0.9 * 50))
    itl = m.latency_ms.itl
    assert itl.count == 4 + 3 and itl.mean == pytest.approx((4 * 100 + 50 + 50 + 100) / 7)
    # Only A meets TTFT <= 200 ms; B's TTFT is 300 ms.
    assert m.goodput.requests_meeting_slo == 1 and m.goodput.share == 0.5
    assert m.goodput.requests_per_s == pytest.approx(1 / 0.7)
    assert m.max_concurrent_requests == 2


def test_percentiles_are_ordered_and_failures_counted():
    failed = RequestTiming(sent=0.1, error="HTTP 500: boom")
    m = summarize([A, B, failed], Slo())
    assert m.completed == 2 and m.failed == 1
    for stats in (m.latency_ms.ttft, m.latency_ms.tpot, m.latency_ms.itl, m.latency_ms.e2e):
        assert stats.median <= stats.p90 <= stats.p99
    assert m.goodput.share == 1.0  # no SLO: every completed request counts


def test_nothing_completed():
    m = summarize([RequestTiming(sent=0.0, error="refused")], Slo())
    assert (m.completed, m.failed, m.output_tokens, m.latency_ms) == (0, 1, None, None)


def test_tokens_between_counts_chunk_tokens_in_the_window():
    # A at .3 .4 .5 (3 reads); B at .5 (1 token) and .55 (2 tokens in one read).
    assert tokens_between([A, B], 0.3, 0.55) == (3 + 1 + 2, 3 + 2)


def test_steady_window_is_timed_only_from_enough_reads():
    assert steady_window([A, B], 0.0, 1.0, "") == (1.0, 10, "")  # all 9 reads inside
    assert steady_window([A, B], None, 1.0, "never filled") == (0.0, 0, "never filled")
    assert steady_window([A, B], 0.5, 0.5, "never filled") == (0.0, 0, "never filled")
    duration, tokens, why = steady_window([A, B], 0.3, 0.55, "")
    assert (duration, tokens) == (0.0, 0)
    assert why.startswith("the steady window was too short to time: 6 tokens in 5 reads over 250 ms")


@pytest.mark.parametrize("reads", [MIN_STEADY_READS - 1, MIN_STEADY_READS])
def test_the_fewest_reads_that_time_a_window(reads):
    steady = request(0.0, [(0.1 * i, 2) for i in range(1, reads + 1)], 0.1 * reads)
    duration, tokens, why = steady_window([steady], 0.05, 0.1 * reads + 0.05, "")
    if reads < MIN_STEADY_READS:
        assert (duration, tokens) == (0.0, 0) and f"{2 * reads} tokens in {reads} reads" in why
    else:
        assert (duration, tokens, why) == (pytest.approx(0.1 * reads), 2 * reads, "")


def test_a_burst_read_at_the_opening_instant_is_inside_but_cannot_time_a_rate():
    # The client was descheduled: all 16 tokens came in one read, the one that opened the window.
    burst = request(0.0, [(0.3, 16)], 0.3)
    assert tokens_between([burst], 0.3, 0.31) == (16, 1)
    assert steady_window([burst], 0.3, 0.31, "")[:2] == (0.0, 0)


def test_single_token_request_has_no_tpot():
    one = request(0.0, [(0.2, 1)], 0.2)
    assert one.tpot is None
    assert summarize([one], Slo(tpot_ms=1)).goodput.share == 1.0


def test_max_in_flight_counts_overlap():
    spans = [request(s, [(e, 1)], e) for s, e in [(0, 1), (0.5, 1.5), (0.9, 2), (1.2, 3)]]
    assert max_in_flight(spans) == 3  # at t=0.9: the first three


def test_empty_distribution():
    assert distribution_ms([]).median is None and distribution_ms([]).count == 0
    assert math.isclose(distribution_ms([0.001, 0.003]).mean, 2.0)
