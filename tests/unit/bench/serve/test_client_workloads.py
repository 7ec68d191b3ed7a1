"""The load models with workload requests: multi-turn sessions, cache salts, trace replay times, and the
serving plan of a trace workload. A stand-in client records what it was asked to send and when."""

import asyncio
import json
import time
from itertools import islice

from bench.inputs.requests import Request
from bench.inputs.suite import ServeSettings, Suite
from bench.inputs.workload import Workload
from bench.serve.client import CompletionsClient, closed_loop, poisson, replay, run_load
from bench.serve.metrics import RequestTiming
from bench.serve.sweep import plan as serve_plan

VOCAB = 1000


class RecordingClient:
    """Answers each request with a first token after 2 ms and the rest 4 ms later; keeps every call in order."""

    def __init__(self, fail_first: bool = False):
        self.calls: list[dict] = []
        self.fail_first = fail_first

    async def send(self, prompt, osl, on_first_token=None, cache_salt=None, reused=0) -> RequestTiming:
        call = {"prompt": list(prompt), "osl": osl, "salt": cache_salt, "reused": reused, "sent": time.perf_counter()}
        self.calls.append(call)
        timing = RequestTiming(sent=call["sent"], prompt_tokens=len(prompt), output_tokens=osl, reused=reused)
        await asyncio.sleep(0.002)
        if self.fail_first and len(self.calls) == 1:
            timing.error, timing.end = "HTTP 500: boom", time.perf_counter()
            call["end"] = timing.end
            return timing
        first = time.perf_counter()
        if on_first_token:
            on_first_token(first)
        timing.arrivals.append((first, 1))
        await asyncio.sleep(0.004)
        timing.end = call["end"] = time.perf_counter()
        timing.arrivals.append((timing.end, osl - 1))
        return timing


def multi_turn(turns: int = 3, think_s: float = 0.0) -> Workload:
    return Workload(
        kind="multi-turn", isl=8, osl=2, multi_turn={"turns": turns, "user_len": 2, "think_time_s": think_s}
    )


def by_session(calls: list[dict], first_len: int) -> dict[tuple, list[dict]]:
    sessions: dict[tuple, list[dict]] = {}
    for call in calls:
        sessions.setdefault(tuple(call["prompt"][:first_len]), []).append(call)
    return sessions


def test_a_multi_turn_session_keeps_its_slot_and_sends_each_turn_after_the_previous_returned():
    client = RecordingClient()
    firsts = list(islice(multi_turn().requests(VOCAB, salt=1), 4))
    result = run_load(closed_loop(client, firsts, 2, 2, salt="k"), 30)
    assert len(result.requests) == len(client.calls) == 12  # 4 sessions x 3 turns
    sessions = by_session(client.calls, 8)
    assert len(sessions) == 4
    for first, calls in zip(firsts, sessions.values()):
        assert calls[0]["prompt"] == first.prompt
        assert [len(c["prompt"]) for c in calls] == [8, 12, 16]
        assert [c["reused"] for c in calls] == [0, 8, 12]  # `reused` goes through to send
        for before, after in zip(calls, calls[1:]):
            assert after["prompt"][: len(before["prompt"])] == before["prompt"]
            assert after["sent"] >= before["end"]  # only after the previous turn returned
    assert [r.reused for r in result.requests] == [c["reused"] for c in client.calls]
    # never more than the concurrency in flight: a session holds its slot through its turns
    for call in client.calls:
        assert sum(c["sent"] <= call["sent"] < c["end"] for c in client.calls) <= 2


def test_each_request_sent_has_its_own_salt_in_send_order():
    client = RecordingClient()
    run_load(closed_loop(client, list(islice(multi_turn().requests(VOCAB), 3)), 2, 2, salt="salt"), 30)
    assert [c["salt"] for c in client.calls] == [f"salt-{i}" for i in range(9)]


def test_without_a_salt_no_request_carries_one():
    for load in (
        lambda c: closed_loop(c, [[5, 6]] * 3, 2, 2),
        lambda c: poisson(c, [[5, 6]] * 3, 2, rate=1000.0),
        lambda c: replay(c, [Request([5], 2, at_s=0.0), Request([6], 2, at_s=0.001)]),
    ):
        client = RecordingClient()
        run_load(load(client), 30)
        assert client.calls and all(c["salt"] is None for c in client.calls)


def test_open_loop_salts_count_every_request_sent():
    client = RecordingClient()
    run_load(poisson(client, [[5, 6]] * 5, 2, rate=2000.0, seed=1, salt="p"), 30)
    assert sorted(c["salt"] for c in client.calls) == [f"p-{i}" for i in range(5)]


def test_a_session_waits_its_think_time_between_turns():
    client = RecordingClient()
    run_load(closed_loop(client, list(islice(multi_turn(turns=2, think_s=0.03).requests(VOCAB), 1)), 2, 1), 30)
    first, second = client.calls
    assert second["sent"] - first["end"] >= 0.03 - 0.001


def test_a_failed_turn_ends_its_session():
    client = RecordingClient(fail_first=True)
    result = run_load(closed_loop(client, list(islice(multi_turn().requests(VOCAB), 2)), 2, 1), 30)
    assert [len(c["prompt"]) for c in client.calls] == [8, 8, 12, 16]  # session 1 stopped at its failed turn
    assert [r.ok for r in result.requests] == [False, True, True, True]


def test_replay_sends_each_request_no_earlier_than_its_time_and_with_its_own_lengths():
    at_s = [0.0, 0.02, 0.05, 0.1, 0.1]
    requests = [Request([4 + i] * (3 + i), 2 + i, reused=i, at_s=t) for i, t in enumerate(at_s)]
    client = RecordingClient()
    start = time.perf_counter()
    result = run_load(replay(client, requests, time_scale=2.0, salt="r"), 30)
    assert len(result.requests) == 5
    calls = sorted(client.calls, key=lambda c: c["osl"])
    assert [c["osl"] for c in calls] == [2, 3, 4, 5, 6]  # each request's own output length
    assert [len(c["prompt"]) for c in calls] == [3, 4, 5, 6, 7]
    assert [c["reused"] for c in calls] == [0, 1, 2, 3, 4]
    first_sent = calls[0]["sent"]
    for call, t in zip(calls, at_s):
        assert call["sent"] - start >= t / 2.0 - 0.001  # never early
        assert call["sent"] - first_sent <= t / 2.0 + 0.05  # and not late beyond scheduling noise
    assert sorted(c["salt"] for c in client.calls) == [f"r-{i}" for i in range(5)]


def test_the_completions_body_carries_a_cache_salt_only_when_given():
    client = CompletionsClient("http://127.0.0.1:8000/", "m")
    salted = client.body([1, 2, 3], 4, cache_salt="x")
    assert salted["cache_salt"] == "x"
    assert (salted["prompt"], salted["max_tokens"], salted["min_tokens"], salted["model"]) == ([1, 2, 3], 4, 4, "m")
    assert "cache_salt" not in client.body([1, 2, 3], 4)
    assert "cache_salt" not in client.body([1, 2, 3], 4, cache_salt=None)
    assert {k: v for k, v in salted.items() if k != "cache_salt"} == client.body([1, 2, 3], 4)
    assert client.url == "http://127.0.0.1:8000/v1/completions"


# --- the serving plan of a trace ------------------------------------------------------------------------------


def write_trace(path, timestamps_ms) -> str:
    path.write_text(
        "".join(
            json.dumps({"timestamp": t, "input_length": 4, "output_length": 2, "hash_ids": [i]}) + "\n"
            for i, t in enumerate(timestamps_ms)
        )
    )
    return str(path)


def trace_suite(trace: str, **trace_settings) -> Suite:
    return Suite(
        models=("tiny-dense",),
        mode="serve",
        serve=ServeSettings(concurrencies=(1, 4), request_rates=(2.0,)),
        workload=Workload(kind="trace", trace={"file": trace, "block_size": 4, **trace_settings}),
    )


def test_a_trace_is_served_at_each_concurrency_then_replayed_once_at_its_mean_rate(tmp_path):
    trace = write_trace(tmp_path / "tiny.jsonl", [1000, 1500, 3000, 5000])  # 4 requests over 4 s
    planned = serve_plan(trace_suite(trace))
    assert [p.key for p in planned] == [
        "tiny-dense/vllm-serve/conc1/trace-tiny",
        "tiny-dense/vllm-serve/conc4/trace-tiny",
        "tiny-dense/vllm-serve/replay/trace-tiny",
    ]  # no Poisson rate for a trace
    replayed = planned[-1]
    assert replayed.fields["request_rate"] == 4 / 4.0
    assert "concurrency" not in replayed.fields
    assert replayed.fields["load"].model == "open-loop trace replay"
    assert replayed.fields["load"].num_requests == 4
    assert replayed.in_flight is None  # an uncapped replay fixes no number in flight


def test_a_faster_replay_has_a_faster_mean_rate(tmp_path):
    trace = write_trace(tmp_path / "tiny.jsonl", [0, 500, 2000])
    replayed = serve_plan(trace_suite(trace, time_scale=2))[-1]
    assert replayed.key == "tiny-dense/vllm-serve/replay-x2/trace-tiny-x2"
    assert replayed.fields["request_rate"] == 3 / 1.0  # 2 s of trace in 1 s


def test_a_trace_with_no_time_span_is_planned_or_refused_in_one_line(tmp_path):
    trace = write_trace(tmp_path / "one.jsonl", [5])
    planned = serve_plan(trace_suite(trace))
    assert planned[-1].fields["request_rate"] is None  # all at once: no mean rate
