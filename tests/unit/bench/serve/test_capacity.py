"""The capacity search's bracketing and bisection, and service-level verdicts, on made-up servers."""

import json

import pytest

from bench.errors import UserError
from bench.inputs.suite import ServeSettings, Suite
from bench.inputs.tiers import Tier, shipped_tiers, tiers_of
from bench.serve.capacity import Outcome, Search, append_outcome, read_outcomes
from bench.serve.metrics import RequestTiming
from bench.serve.service_levels import verdict
from bench.validation import parse


def judge_by(threshold: float, flaky: dict[float, list[bool]] | None = None):
    """A server that keeps the tier up to `threshold`; `flaky` loads answer from a list instead, in turn."""
    calls = []
    answers = {k: list(v) for k, v in (flaky or {}).items()}

    def judge(load: float, runs: int) -> list[bool]:
        made = judged.setdefault(load, [])
        if len(made) < runs:
            calls.append((load, runs - len(made)))  # what was measured: (load, new measurements)
        while len(made) < runs:
            made.append(answers[load].pop(0) if answers.get(load) else load <= threshold)
        return list(made)

    judged: dict[float, list[bool]] = {}
    return judge, calls


def test_a_closed_loop_search_brackets_by_doubling_then_bisects_to_one_request():
    judge, calls = judge_by(11)
    low, high = Search(True, 1, 256, 0.05, 3).run(judge)
    assert (low, high) == (11, 12)
    # bracketing measures once: 1, 2, 4, 8 pass, 16 fails; then 8 is confirmed and 12, 10, 11 bisected, 3 runs each
    assert calls == [(1, 1), (2, 1), (4, 1), (8, 1), (16, 1), (8, 2), (12, 3), (10, 3), (11, 3)]


def test_a_tolerance_stops_the_bisection_early():
    judge, _ = judge_by(100)
    low, high = Search(True, 1, 256, 0.25, 1).run(judge)
    assert low <= 100 < high and high - low <= max(1, int(0.25 * low))


def test_a_server_that_never_fails_up_to_the_maximum_is_a_lower_bound():
    judge, _ = judge_by(1000)
    assert Search(True, 1, 48, 0.1, 2).run(judge) == (48, None)


def test_a_server_that_fails_at_the_lowest_load_never_meets_the_tier():
    judge, calls = judge_by(0.5)
    assert Search(True, 1, 64, 0.1, 3).run(judge) == (None, 1)
    assert calls == [(1, 1), (1, 2)]  # the failure is confirmed by a majority of repeats before "never"


def test_an_open_loop_search_looks_below_its_start_rate_when_the_start_fails():
    judge, _ = judge_by(0.3)
    low, high = Search(False, 2.0, 100, 0.1, 1).run(judge)
    assert low <= 0.3 < high and (high - low) / low <= 0.1


def test_a_lucky_bracketing_pass_is_not_the_answer_when_its_repeats_fail():
    # 8 passed once while bracketing, but fails 2 of 3 when confirmed: the answer falls back to 4..8
    judge, _ = judge_by(5, flaky={8: [True, False, False]})
    low, high = Search(True, 1, 256, 0.05, 3).run(judge)
    assert (low, high) == (5, 6)


def timing(ttft_s: float, tpot_s: float, tokens: int = 11, prompt: int = 20, ok: bool = True) -> RequestTiming:
    t = RequestTiming(sent=0.0, end=ttft_s + tpot_s * (tokens - 1), prompt_tokens=prompt, output_tokens=tokens)
    if ok:
        t.arrivals = [(ttft_s, 1), (ttft_s + tpot_s * (tokens - 1), tokens - 1)]
    else:
        t.error = "HTTP 500"
    return t


def test_a_verdict_checks_the_tier_percentile_and_counts_the_tokens_within():
    tier = Tier(percentile=50, ttft_ms=100, tpot_ms=20)
    requests = [timing(0.05, 0.010), timing(0.08, 0.015), timing(0.5, 0.010)]
    v = verdict(tier, requests)
    assert v.met and v.ttft_ms == pytest.approx(80) and v.tpot_ms == pytest.approx(10)
    assert v.requests_within == 2 and v.output_tokens_within == 22 and v.total_tokens_within == 62
    slow = verdict(Tier(percentile=90, ttft_ms=100), requests)
    assert not slow.met and slow.why == "p90 TTFT 416 ms > 100 ms"


def test_an_interactivity_floor_is_a_tpot_limit_and_a_failed_request_fails_the_tier():
    tier = Tier(percentile=50, min_tok_s_user=50)  # 20 ms
    assert verdict(tier, [timing(1.0, 0.019)]).met
    assert verdict(tier, [timing(1.0, 0.021)]).why == "p50 TPOT 21 ms > 20 ms"
    failed = verdict(tier, [timing(1.0, 0.010), timing(1.0, 0.01, ok=False)])
    assert not failed.met and failed.why == "1 of 2 requests failed"
    assert verdict(tier, [timing(1.0, 0.01, ok=False)]).why == "all 1 requests failed"


def test_the_shipped_tiers_and_a_suites_own():
    assert {"ix-30", "ix-50", "ix-75", "ix-100", "interactive", "chat", "batch"} <= set(shipped_tiers())
    assert shipped_tiers()["ix-50"].tpot_limit_ms == 20
    own = {"fast": Tier(ttft_ms=50), "chat": Tier(ttft_ms=1)}
    assert tiers_of(own)["chat"].ttft_ms == 1 and "fast" in tiers_of(own)
    with pytest.raises(UserError, match=r"^suite.toml tiers.x: is \{\}; a tier needs ttft_ms, tpot_ms"):
        parse(Suite, {"tiers": {"x": {}}}, "suite.toml")
    with pytest.raises(UserError, match=r"^serve.capacity: names the tier 'nope', which is not defined"):
        Suite(mode="serve", serve=ServeSettings(capacity=("nope",))).check()
    with pytest.raises(UserError, match=r"^serve.capacity: searches serving capacity, and the mode is offline"):
        Suite(serve=ServeSettings(capacity=("chat",))).check()


def test_outcomes_are_appended_and_the_last_of_each_search_is_read_back(tmp_path):
    first = Outcome("m", "random 128/128", "isl128/osl128", "chat", "concurrency", "found", 8, 16)
    append_outcome(tmp_path, first)
    append_outcome(tmp_path, Outcome("m", "random 128/128", "isl128/osl128", "chat", "concurrency", "found", 12, 13))
    with (tmp_path / "capacity.jsonl").open("a") as f:
        f.write('{"model": "m", "torn')
    (outcome,) = read_outcomes(tmp_path)
    assert outcome["capacity"] == 12 and json.loads(json.dumps(outcome)) == outcome
    assert first.summary() == "m (random 128/128) meets tier chat at 8 concurrent requests, fails at 16"
    never = Outcome("m", "w", "k", "chat", "rate", tried={"1": [False], "0.5": [False]})
    assert never.summary() == "m (w) never meets tier chat: it failed at the lowest load tried (0.5 requests/s)"
