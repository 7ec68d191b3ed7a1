"""Serving metrics on hand-made timelines, against values worked out by hand."""

import asyncio
import math

import aiohttp
import numpy as np
import pytest

from bench.serve.client import CompletionsClient
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
    return RequestTiming(
        sent=sent,
        end=end,
        arrivals=arrivals,
        prompt_tokens=prompt,
        output_tokens=output if output is not None else sum(n for _, n in arrivals),
    )


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


def test_e2e_and_tpot_end_at_the_last_token_not_at_done():
    # Tokens at 0.1 .. 0.5 as A's, but the usage chunk and [DONE] come 40 ms after the last token.
    tail = request(0.0, [(0.1, 1), (0.2, 1), (0.3, 1), (0.4, 1), (0.5, 1)], 0.54)
    assert tail.e2e == 0.5 - 0.0 and tail.tpot == (0.5 - 0.1) / 4  # not (0.54 - 0.1) / 4
    m = summarize([tail], Slo())
    assert m.latency_ms.e2e.mean == 0.5 * 1000 and m.latency_ms.tpot.mean == (0.5 - 0.1) / 4 * 1000
    assert m.duration_s == 0.54  # the duration still runs to the return, after [DONE]


def test_a_failed_request_returning_last_ends_the_duration():
    # A and B end by 0.7; a request sent at 0.1 times out and returns at 1.4.
    late = RequestTiming(sent=0.1, end=1.4, error="TimeoutError: ")
    m = summarize([A, B, late], Slo(ttft_ms=200, tpot_ms=150))
    assert (m.completed, m.failed) == (2, 1)
    assert m.duration_s == 1.4  # first send 0.0 to the failed request's return, not B's end at 0.7
    assert m.requests_per_s == 2 / 1.4 and m.output_tok_s == 10 / 1.4 and m.total_tok_s == 30 / 1.4
    assert m.goodput.requests_per_s == 1 / 1.4 and m.goodput.share == 0.5
    assert m.max_concurrent_requests == 3  # it was in flight with A and B
    early = RequestTiming(sent=0.1, end=0.3, error="HTTP 500: boom")  # returning before B's end changes nothing
    assert summarize([A, B, early], Slo()).duration_s == 0.7


def test_a_time_equal_to_the_slo_passes_as_in_vllm():
    # 2.007 * 1000 > 2007 in floating point, so "ms <= slo" failed this request; vLLM's "slo / 1000 >= s" passes it.
    exact = request(0.0, [(2.007, 1)], 2.007)
    assert Slo(ttft_ms=2007).met_by(exact)


class _Response:
    def __init__(self, status, reads):
        self.status, self.reads = status, reads
        self.content = self

    async def text(self):
        return "boom"

    async def iter_any(self):
        for read in self.reads:
            await asyncio.sleep(0.01)
            if isinstance(read, Exception):
                raise read
            yield read

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class _Session:
    def __init__(self, response):
        self.response = response

    def post(self, *args, **kwargs):
        return self.response


TOKEN = b'data: {"choices": [{"text": "x"}], "usage": {"prompt_tokens": 4, "completion_tokens": 1}}\n\n'


@pytest.mark.parametrize(
    "response",
    [
        _Response(500, []),
        _Response(200, [TOKEN, aiohttp.ClientPayloadError("cut")]),
        _Response(200, [TOKEN, b"data: [DONE]\n\n"]),
    ],
    ids=["http-error", "cut-mid-stream", "ok"],
)
def test_the_client_records_when_every_request_returns(response):
    client = CompletionsClient("http://127.0.0.1:9", "m")
    client.session = _Session(response)
    timing = asyncio.run(client.send([1, 2, 3, 4], 1))
    assert timing.end is not None and timing.end >= timing.sent + 0.01 * len(response.reads)
    assert timing.ok == (response.status == 200 and not isinstance(response.reads[-1], Exception))
    if timing.ok:
        assert timing.end >= timing.arrivals[-1][0]


def _timelines(rng, n):
    """Synthetic requests: random TTFTs and gaps, multi-token chunks, a tail before [DONE], and failures."""
    requests, clock = [], 1000.0  # perf_counter-like magnitudes, so subtractions round as they do for real
    for _ in range(n):
        clock += rng.exponential(0.05)
        sent = clock
        kind = rng.choice(["ok", "http", "cut"], p=[0.9, 0.06, 0.04])
        if kind == "http":
            requests.append(RequestTiming(sent=sent, end=sent + rng.uniform(0.001, 0.05), error="HTTP 500: boom"))
            continue
        t, arrivals = sent + rng.lognormal(np.log(0.2), 0.5), []
        for _ in range(1 if rng.random() < 0.06 else rng.integers(2, 40)):
            arrivals.append((t, 1 if rng.random() < 0.8 else int(rng.integers(2, 5))))  # several tokens per read
            t += rng.exponential(0.04)
        tokens = sum(k for _, k in arrivals)
        if kind == "cut":  # disconnected mid-stream: some tokens, then an error
            requests.append(
                RequestTiming(
                    sent=sent,
                    end=t,
                    arrivals=arrivals[:-1] or arrivals,
                    prompt_tokens=int(rng.integers(50, 500)),
                    error="ClientPayloadError: cut",
                )
            )
            continue
        done = arrivals[-1][0] + (rng.uniform(0, 0.002) if rng.random() < 0.7 else 0.0)  # usage and [DONE] after
        requests.append(
            RequestTiming(
                sent=sent, end=done, arrivals=arrivals, prompt_tokens=int(rng.integers(50, 500)), output_tokens=tokens
            )
        )
    last = max(r.end for r in requests)
    requests.append(RequestTiming(sent=clock, end=last + 1.5, error="TimeoutError: "))  # a failure returns last
    return requests


def _as_vllm(r, output_cls):
    """The RequestFuncOutput vLLM's async_request_openai_completions builds from the same events."""
    times = [t for t, _ in r.arrivals]
    out = output_cls(
        success=r.ok,
        start_time=r.sent,
        prompt_len=r.prompt_tokens or 0,
        error=r.error or "",
        output_tokens=r.output_tokens or 0,
    )
    if times:
        out.ttft = times[0] - r.sent  # `output.ttft = timestamp - st`
        out.itl = [b - a for a, b in zip(times, times[1:])]  # `timestamp - most_recent_timestamp` per chunk
        out.latency = times[-1] - r.sent if r.ok else 0.0  # `most_recent_timestamp - st`, on success only
    return out


@pytest.mark.vllm  # vLLM's own code (importing it takes tens of seconds): outside the fast tier
def test_same_events_give_vllm_calculate_metrics_numbers():
    """vLLM 0.32.0's own calculate_metrics (vllm/benchmarks/serve.py) on the same timelines, to 1e-9.

    Not compared, as documented in docs/serving.md: max_concurrent_requests (vLLM counts per 1-second bucket).
    vLLM's dur_s is passed as its benchmark() measures it for a closed loop: start to the last return of all
    requests; tokenizer=None is enough because every success carries its usage's completion_tokens.
    """
    serve = pytest.importorskip("vllm.benchmarks.serve")
    from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput

    requests = _timelines(np.random.default_rng(1), 400)
    slo = Slo(ttft_ms=300, tpot_ms=50)
    ours = summarize(requests, slo)
    dur_s = max(r.end for r in requests) - min(r.sent for r in requests)
    theirs, _ = serve.calculate_metrics(
        input_requests=[],
        outputs=[_as_vllm(r, RequestFuncOutput) for r in requests],
        dur_s=dur_s,
        tokenizer=None,
        selected_percentiles=[50, 90, 99],
        goodput_config_dict={"ttft": 300, "tpot": 50},
    )

    assert 0 < ours.failed and 0 < ours.goodput.requests_meeting_slo < ours.completed  # the test means something
    assert any(r.ok and r.end > r.arrivals[-1][0] for r in requests)
    assert (ours.completed, ours.failed) == (theirs.completed, theirs.failed)
    assert (ours.input_tokens, ours.output_tokens) == (theirs.total_input, theirs.total_output)
    pairs = {
        "duration": (ours.duration_s, dur_s),
        "request_throughput": (ours.requests_per_s, theirs.request_throughput),
        "output_throughput": (ours.output_tok_s, theirs.output_throughput),
        "total_token_throughput": (ours.total_tok_s, theirs.total_token_throughput),
        "request_goodput": (ours.goodput.requests_per_s, theirs.request_goodput),
    }
    for name in ("ttft", "tpot", "itl", "e2el"):
        ms = getattr(ours.latency_ms, "e2e" if name == "e2el" else name)
        p = dict(getattr(theirs, f"percentiles_{name}_ms"))
        pairs.update(
            {
                f"mean_{name}": (ms.mean, getattr(theirs, f"mean_{name}_ms")),
                f"std_{name}": (ms.std, getattr(theirs, f"std_{name}_ms")),
                f"median_{name}": (ms.median, getattr(theirs, f"median_{name}_ms")),
                f"p50_{name}": (ms.median, p[50]),
                f"p90_{name}": (ms.p90, p[90]),
                f"p99_{name}": (ms.p99, p[99]),
            }
        )
    differ = {k: v for k, v in pairs.items() if not math.isclose(*v, rel_tol=1e-9)}
    assert differ == {}
