"""Serving metrics from per-request timelines, as `vllm bench serve`'s calculate_metrics defines them.

TTFT: send to first token. E2E: send to last token. TPOT: (E2E - TTFT) /
(output tokens - 1), per request. ITL: gaps between successive token-carrying
chunks. Duration: first send to the last return of any request, failed ones
included. Interactivity: 1000 / TPOT in ms, tokens per second per user
(InferenceX's x axis). Goodput: requests per second that met every SLO.
The deliberate differences from vLLM are listed in docs/serving.md.
"""

from dataclasses import dataclass, field

import numpy as np

from bench.run.record import Distribution, Goodput, Latency

PERCENTILES = (50, 90, 99)


@dataclass
class RequestTiming:
    """One request as the client saw it; times are time.perf_counter() seconds."""

    sent: float
    end: float | None = None  # when the request returned, failed or not (after [DONE] when it succeeded)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, tokens) per token-carrying chunk
    prompt_tokens: int | None = None  # from the server's usage
    output_tokens: int | None = None
    error: str | None = None
    reused: int = 0  # leading prompt tokens an earlier request of the point sent (bench.inputs.requests.Request)

    @property
    def ok(self) -> bool:
        return self.error is None and self.end is not None and bool(self.arrivals)

    @property
    def ttft(self) -> float:
        return self.arrivals[0][0] - self.sent

    @property
    def e2e(self) -> float:
        """Send to the last token (vLLM's latency); to the return for a request that got no token."""
        last = self.arrivals[-1][0] if self.arrivals else self.end
        if last is None:
            raise ValueError("a request still in flight has no end-to-end latency")
        return last - self.sent

    @property
    def tpot(self) -> float | None:
        tokens = self.output_tokens or sum(n for _, n in self.arrivals)
        return (self.e2e - self.ttft) / (tokens - 1) if tokens > 1 else None

    @property
    def itls(self) -> list[float]:
        times = [t for t, _ in self.arrivals]
        return list(np.diff(times)) if len(times) > 1 else []


@dataclass(frozen=True)
class Slo:
    ttft_ms: float | None = None
    tpot_ms: float | None = None

    def met_by(self, r: RequestTiming) -> bool:
        # Compared as vLLM does (slo_ms / 1000 >= seconds), so a time equal to the SLO passes in both.
        ttft_ok = self.ttft_ms is None or self.ttft_ms / 1000 >= r.ttft
        tpot_ok = self.tpot_ms is None or self.tpot_ms / 1000 >= (r.tpot or 0.0)
        return ttft_ok and tpot_ok


def distribution_ms(seconds: list[float]) -> Distribution:
    """mean, std, median, p90, p99 in milliseconds (None for an empty list)."""
    if not seconds:
        return Distribution(count=0)
    ms = np.asarray(seconds, dtype=float) * 1000
    p50, p90, p99 = np.percentile(ms, PERCENTILES)
    return Distribution(
        mean=float(ms.mean()),
        std=float(ms.std()),
        median=float(p50),
        p90=float(p90),
        p99=float(p99),
        count=int(ms.size),
    )


def interactivity(tpot_ms: float | None) -> float | None:
    return 1000.0 / tpot_ms if tpot_ms else None


@dataclass(frozen=True)
class ServeMetrics:
    """A serving point's metrics over its measured requests; the rest is None when none completed."""

    completed: int
    failed: int
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_s: float | None = None
    requests_per_s: float | None = None
    output_tok_s: float | None = None
    total_tok_s: float | None = None
    latency_ms: Latency | None = None
    interactivity_tok_s_user: float | None = None
    interactivity_p90_tok_s_user: float | None = None
    goodput: Goodput | None = None
    max_concurrent_requests: int | None = None


def summarize(requests: list[RequestTiming], slo: Slo) -> ServeMetrics:
    """The point's metrics over its measured requests (warm-up excluded by the caller)."""
    done = [r for r in requests if r.ok]
    if not done:
        return ServeMetrics(completed=0, failed=len(requests))
    returned = [r for r in requests if r.end is not None]
    start = min(r.sent for r in requests)
    end = max(
        r.end for r in requests if r.end is not None
    )  # the last return, failed requests included (vLLM's benchmark_duration)
    duration = end - start
    input_tokens = sum(r.prompt_tokens or 0 for r in done)
    output_tokens = sum(r.output_tokens or 0 for r in done)
    tpot = distribution_ms([r.tpot for r in done if r.tpot is not None])
    good = sum(slo.met_by(r) for r in done)
    return ServeMetrics(
        completed=len(done),
        failed=len(requests) - len(done),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        duration_s=duration,
        requests_per_s=len(done) / duration,
        output_tok_s=output_tokens / duration,
        total_tok_s=(input_tokens + output_tokens) / duration,
        latency_ms=Latency(
            ttft=distribution_ms([r.ttft for r in done]),
            tpot=tpot,
            itl=distribution_ms([gap for r in done for gap in r.itls]),
            e2e=distribution_ms([r.e2e for r in done]),
        ),
        # Median TPOT gives the typical user's speed; p90 TPOT the slow tail's (InferenceX's p90_intvty).
        interactivity_tok_s_user=interactivity(tpot.median),
        interactivity_p90_tok_s_user=interactivity(tpot.p90),
        goodput=Goodput(
            slo_ttft_ms=slo.ttft_ms,
            slo_tpot_ms=slo.tpot_ms,
            requests_meeting_slo=good,
            share=good / len(done),
            requests_per_s=good / duration,
        ),
        max_concurrent_requests=max_in_flight(returned),
    )


def max_in_flight(requests: list[RequestTiming]) -> int:
    events = sorted([(r.sent, 1) for r in requests] + [(r.end, -1) for r in requests], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def tokens_between(requests: list[RequestTiming], t0: float, t1: float) -> tuple[int, int]:
    """Output tokens that arrived at the client in [t0, t1], and in how many reads."""
    inside = [n for r in requests for t, n in r.arrivals if t0 <= t <= t1]
    return sum(inside), len(inside)


# A rate timed from fewer reads than this is set by when the client happened to read,
# e.g. one late read that brings a whole request's tokens at once.
MIN_STEADY_READS = 8


def steady_window(
    requests: list[RequestTiming], opened: float | None, closed: float | None, why_not: str
) -> tuple[float, int, str]:
    """The steady window's length and output tokens; (0, 0, why) where it cannot be timed."""
    if opened is None or closed is None or closed <= opened:
        return 0.0, 0, why_not
    tokens, reads = tokens_between(requests, opened, closed)
    if reads < MIN_STEADY_READS:
        return (
            0.0,
            0,
            (
                f"the steady window was too short to time: {tokens} tokens in {reads} reads over "
                f"{(closed - opened) * 1000:.0f} ms (needs {MIN_STEADY_READS} reads); "
                "send more requests per point or a longer osl"
            ),
        )
    return closed - opened, tokens, ""
