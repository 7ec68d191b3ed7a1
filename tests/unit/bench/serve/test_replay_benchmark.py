"""The replay schedule benchmark (bench.overhead.replay) and its fake server: what it sends, what it computes.

Timing targets are the benchmark's claim, measured when it runs; these tests check counts and arithmetic only.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.inputs.requests import Request
from bench.inputs.trace import SHIPPED_TRACE
from bench.overhead import replay as bench
from bench.overhead.fake_server import MODEL, FakeServer
from bench.serve.metrics import RequestTiming

REPO_ROOT = Path(__file__).resolve().parents[4]


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def timing(sent: float, error: str | None = None) -> RequestTiming:
    return RequestTiming(sent=sent, end=sent + 1.0, arrivals=[(sent + 0.5, 1)], error=error)


# --- the schedule's arithmetic -----------------------------------------------------------------------------------


def test_send_errors_pair_timings_with_requests_in_send_order():
    # Scheduled at 0, 0.25, 0.5, 1.0 s of trace time, replayed twice as fast: 0, 0.125, 0.25, 0.5 s.
    requests = [
        Request([1], 1, at_s=0.5),
        Request([1], 1, at_s=0.0),
        Request([1], 1, at_s=1.0),
        Request([1], 1, at_s=0.25),
    ]
    # Sent 0, 0.0625, 0 and 0.125 s late (the first send is the schedule's start); listed in completion order.
    timings = [timing(8.0 + 0.5 + 0.125), timing(8.0 + 0.25), timing(8.0), timing(8.0 + 0.125 + 0.0625)]
    assert bench.send_errors(requests, timings, time_scale=2.0) == [0.0, 0.0625, 0.0, 0.125]


def test_send_errors_count_from_the_first_send_and_the_first_timestamp():
    requests = [Request([1], 1, at_s=2.0), Request([1], 1, at_s=3.0)]
    timings = [timing(100.5), timing(100.0)]  # a schedule starting at 2 s: only the difference counts
    assert bench.send_errors(requests, timings, time_scale=1.0) == [0.0, -0.5]


def test_send_errors_refuse_timings_that_are_not_one_per_request():
    with pytest.raises(ValueError, match="2 timings for 1 requests"):
        bench.send_errors([Request([1], 1, at_s=0.0)], [timing(1.0), timing(2.0)], 1.0)


def test_synthetic_schedule_is_seeded_and_starts_at_zero():
    requests = bench.synthetic_requests(50, rate=100.0, isl=7, osl=3, seed=4)
    at = [r.at_s for r in requests]
    assert at[0] == 0.0 and at == sorted(at) and len(set(at)) == 50
    assert all(len(r.prompt) == 7 and r.osl == 3 for r in requests)
    again = bench.synthetic_requests(50, rate=100.0, isl=7, osl=3, seed=4)
    assert [(r.prompt, r.at_s) for r in again] == [(r.prompt, r.at_s) for r in requests]


def test_trace_schedule_is_scaled_to_the_asked_rate():
    requests, time_scale = bench.trace_schedule(str(SHIPPED_TRACE), 30, rate=100.0, seed=0)
    assert len(requests) == 30 and requests[0].at_s == 0.0
    assert bench.schedule_rate(requests, time_scale) == pytest.approx(100.0)


def test_report_counts_failures_and_says_whether_the_target_was_met():
    requests = [Request([1], 1, at_s=0.0), Request([1], 1, at_s=0.01)]
    lines = bench.report(requests, [timing(5.0), timing(5.01, error="HTTP 500")], 1.0, cpu_s=0.002)
    assert lines[0] == "requests sent: 2" and lines[1] == "completed: 1 (1 FAILED)"
    assert any(line.endswith("target met") for line in lines)
    assert lines[-1] == "client CPU per request: 1.000 ms"
    late = bench.report(requests, [timing(5.0), timing(5.02)], 1.0, cpu_s=0.0)
    assert any(line.endswith("target missed") for line in late)  # 10 ms late


# --- against the real fake server --------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_replay_against_the_fake_server_gets_every_token_asked():
    requests = bench.synthetic_requests(100, rate=100.0, isl=8, osl=5, seed=0)
    with FakeServer() as server:
        timings, cpu_s, _ = asyncio.run(bench.measure(server.base_url, MODEL, requests, 1.0))
        served = server.stats()
    assert len(timings) == 100 and all(t.ok for t in timings)
    assert all(t.prompt_tokens == 8 and t.output_tokens == 5 for t in timings)
    assert all(len(t.arrivals) == 5 and all(n == 1 for _, n in t.arrivals) for t in timings)  # one token a chunk
    assert served["requests"] == 100 and 1 <= served["connections"] <= 100
    errors = bench.send_errors(requests, timings, 1.0)
    assert len(errors) == 100 and errors[0] == 0.0
    assert cpu_s > 0


@pytest.mark.timeout(60)
def test_fake_server_streams_as_openai_and_answers_health_and_models():
    with FakeServer(token_delay_s=0.001, model="m") as server:
        with urllib.request.urlopen(f"{server.base_url}/health") as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{server.base_url}/v1/models") as response:
            assert [m["id"] for m in json.loads(response.read())["data"]] == ["m"]

        def stream(body: dict) -> list[str]:
            request = urllib.request.Request(
                f"{server.base_url}/v1/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as response:
                assert response.headers["Content-Type"].startswith("text/event-stream")
                text = response.read().decode()
            assert text.endswith("\n\n")
            events = text[:-2].split("\n\n")
            assert all(event.startswith("data: ") for event in events)
            return [event[len("data: ") :] for event in events]

        # A text prompt counts its characters; usage only at the end without continuous usage.
        events = stream({"prompt": "hello", "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}})
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert [c["choices"] for c in chunks[:3]] == [
            [{"text": "x", "index": 0, "logprobs": None, "finish_reason": f}] for f in (None, None, "length")
        ]
        assert all("usage" not in c for c in chunks[:3])
        assert chunks[3]["choices"] == [] and chunks[3]["usage"]["prompt_tokens"] == 5
        assert chunks[3]["usage"]["completion_tokens"] == 3 and len(chunks) == 4

        # Token ids, continuous usage: every chunk counts the tokens so far.
        events = stream(
            {
                "prompt": [1, 2, 3, 4],
                "max_tokens": 2,
                "stream": True,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            }
        )
        usage = [json.loads(e)["usage"] for e in events[:-1]]
        assert usage == [{"prompt_tokens": 4, "completion_tokens": n, "total_tokens": 4 + n} for n in (1, 2)]

        # No stream_options: no usage at all.
        events = stream({"prompt": [1], "max_tokens": 1, "stream": True})
        assert len(events) == 2 and "usage" not in json.loads(events[0]) and events[1] == "[DONE]"


# --- no server outlives us ---------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("body_raises", [None, KeyboardInterrupt, RuntimeError])
def test_fake_server_is_gone_after_the_context_manager(body_raises):
    server = FakeServer()
    try:
        with server:
            pid = server.process.pid
            assert not group_gone(pid)
            if body_raises:
                raise body_raises()
    except (KeyboardInterrupt, RuntimeError) as e:
        assert isinstance(e, body_raises)
    assert server.process.returncode is not None and group_gone(pid)


@pytest.mark.timeout(60)
def test_fake_server_is_gone_when_interrupted_while_starting(monkeypatch):
    started = []

    def interrupted(self):
        started.append(self.process)
        raise KeyboardInterrupt

    monkeypatch.setattr(FakeServer, "_wait_until_healthy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with FakeServer():
            pass
    assert len(started) == 1 and started[0].returncode is not None and group_gone(started[0].pid)


def _gone_or_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # reparented to an init that has not reaped it yet


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_fake_server_exits_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom bench.overhead.fake_server import FakeServer\n"
            "with FakeServer() as s:\n    print(s.process.pid, flush=True)\n    time.sleep(60)\n",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    server_pid = None
    try:
        server_pid = int(parent.stdout.readline())
        assert not _gone_or_zombie(server_pid)
        parent.send_signal(signal.SIGKILL)  # no finally runs: the server must notice on its own
        parent.wait()
        deadline = time.monotonic() + 10
        while not _gone_or_zombie(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone_or_zombie(server_pid)
    finally:
        parent.kill()
        parent.wait()
        if server_pid is not None and not _gone_or_zombie(server_pid):
            os.killpg(server_pid, signal.SIGKILL)  # the test failed: leave nothing behind
