"""The client throughput benchmark (bench.overhead.client_throughput), the fake server's paced and multi-process
modes, and the client's event scan that the benchmark measures.

Speed is the benchmark's claim, measured side by side when it runs; these tests check counts and arithmetic only.
"""

import asyncio
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.overhead import client_throughput as bench
from bench.overhead.client_throughput import Point
from bench.overhead.fake_server import MODEL, FakeServer
from bench.serve.client import CompletionsClient, _Events, closed_loop, decode_event, scan_event
from bench.serve.metrics import RequestTiming

REPO_ROOT = Path(__file__).resolve().parents[4]


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)


# --- distortion arithmetic, on hand-made timings -----------------------------------------------------------------


def paced(sent: float, first: float, gap: float, tokens: int) -> RequestTiming:
    """A request whose `tokens` tokens arrived one a chunk, `gap` seconds apart from `first`."""
    arrivals = [(first + k * gap, 1) for k in range(tokens)]
    return RequestTiming(sent=sent, end=arrivals[-1][0], arrivals=arrivals, prompt_tokens=4, output_tokens=tokens)


def test_distortion_of_hand_made_timings_is_exact():
    # Dyadic times, so every difference is exact: TPOTs of 62.5, 78.125 and 93.75 ms; the median is 78.125.
    timings = [paced(1.0, 1.5, 0.0625, 5), paced(2.0, 2.25, 0.078125, 9), paced(3.0, 3.125, 0.09375, 3)]
    assert bench.median_tpot_ms(timings) == 78.125
    assert bench.distortion(78.125, 62.5) == 0.25  # 25 % slower than the truth
    assert bench.distortion(bench.median_tpot_ms(timings[:1]), 125.0) == -0.5  # twice as fast
    assert bench.distortion(20.0, 20.0) == 0.0


def test_median_tpot_ignores_failed_requests_and_has_none_without_a_success():
    failed = RequestTiming(sent=0.0, end=0.5, error="HTTP 500: boom")
    assert bench.median_tpot_ms([paced(1.0, 1.5, 0.03125, 5), failed]) == 31.25
    assert bench.median_tpot_ms([failed]) is None


def test_a_point_is_sustained_within_five_percent_of_the_truth_while_the_server_kept_its_pace():
    assert Point(64, 3200.0, tpot_ms=20.5, true_tpot_ms=20.0, nominal_tpot_ms=20.0).sustained  # +2.5 %
    assert not Point(64, 3200.0, tpot_ms=21.25, true_tpot_ms=20.0, nominal_tpot_ms=20.0).sustained  # +6.25 %
    assert Point(64, 3200.0, tpot_ms=19.5, true_tpot_ms=20.0, nominal_tpot_ms=20.0).sustained  # -2.5 %
    assert not Point(64, 3200.0, tpot_ms=18.75, true_tpot_ms=20.0, nominal_tpot_ms=20.0).sustained  # -6.25 %
    assert Point(64, 3200.0, tpot_ms=20.5, true_tpot_ms=20.5, nominal_tpot_ms=20.0).sustained  # the server 2.5 % late
    behind = Point(64, 3200.0, tpot_ms=25.0, true_tpot_ms=25.0, nominal_tpot_ms=20.0)  # the client is right...
    assert behind.distortion == 0.0 and not behind.server_kept_pace and not behind.sustained  # ...the load was not
    assert not Point(64, 3200.0, 20.0, 20.0, 20.0, exact=False).sustained  # a token missed: nothing is sustained


def test_the_highest_sustained_concurrency_and_its_tokens_per_second():
    points = [
        Point(16, 800.0, 20.0, 20.0, 20.0),
        Point(64, 3100.0, 20.5, 20.0, 20.0),
        Point(256, 12000.0, 22.0, 20.0, 20.0),  # 10 % over
        Point(1024, 40000.0, 20.0, 20.0, 20.0),
        Point(1024, 42000.0, 23.0, 20.0, 20.0),
        Point(1024, 44000.0, 20.5, 20.0, 20.0),
    ]  # measured three times: the median (+2.5 %, 42000) counts
    best = bench.highest_sustained(points)
    assert (best.concurrency, best.output_tok_s, best.tpot_ms) == (1024, 42000.0, 20.5)
    assert best.streaming_tok_s == 51200.0  # what 1024 streams at 20 ms a token mean
    assert bench.highest_sustained(points[:3]).concurrency == 64  # 256 was over: 64 is the highest within
    assert bench.highest_sustained([Point(1, 50.0, 30.0, 20.0, 20.0)]) is None
    assert bench.highest_sustained(points, among={16, 64, 256}).concurrency == 64


def test_runs_where_the_server_fell_behind_say_nothing_about_the_client():
    behind = Point(256, 9000.0, 27.0, 27.0, 20.0)  # the server's own pace was 35 % late: the load was not delivered
    points = [Point(64, 3100.0, 20.5, 20.0, 20.0), behind, Point(256, 12000.0, 20.25, 20.0, 20.0)]
    assert bench.measurable(points) == {64, 256}
    best = bench.highest_sustained(points)  # 256 counts by its one run at pace
    assert (best.concurrency, best.output_tok_s, best.tpot_ms) == (256, 12000.0, 20.25)
    assert bench.measurable([behind]) == set() and bench.highest_sustained([behind]) is None
    missed = Point(256, 12000.0, 20.0, 20.0, 20.0, exact=False)  # a token missed: the concurrency fails
    assert bench.highest_sustained([points[0], behind, missed]).concurrency == 64


def test_server_delta_takes_only_the_new_requests_and_each_workers_cpu_share():
    def worker(tpots, cpu, wait):
        return {"tpot_s": tpots, "cpu_s": cpu, "cpu_wait_s": wait}

    before = {"requests": 3, "workers": [worker([0.5], 0.25, 0.125), worker([0.5, 0.5], 1.0, 0.0)]}
    after = {
        "requests": 8,
        "workers": [worker([0.5, 0.0625, 0.125], 1.25, 0.375), worker([0.5, 0.5, 0.25, 0.03125, 0.015625], 1.5, 0.0)],
    }
    delta = bench.server_delta(before, after, wall_s=2.0)  # the client's run took 2 s
    assert delta["requests"] == 5
    assert delta["tpot_ms"] == 62.5  # the median of 62.5, 125, 250, 31.25, 15.625 ms
    assert delta["cpu_shares"] == [0.5, 0.25]  # 1 and 0.5 CPU seconds of the 2
    assert delta["cpu_wait_s"] == 0.25


def test_ceiling_runs_send_enough_tokens():
    args = bench.parse_args(["--osl", "256", "--requests-per-stream", "2", "--ceiling-tokens", "200000"])
    assert bench.ceiling_requests(1, args) == 782  # 200,000 tokens / 256, rounded up
    assert bench.ceiling_requests(1024, args) == 2048


def test_bad_options_are_refused():
    for argv in (["--concurrency", "1,x"], ["--concurrency", "0"], ["--osl", "1"], ["--token-delay-ms", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)


# --- both sides, for real, against the fake server ---------------------------------------------------------------


@pytest.mark.vllm  # vLLM's own benchmark client, in a process of its own: outside the fast tier
@pytest.mark.timeout(240)
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM's benchmark client")
def test_both_sides_stream_every_token_from_the_fake_server(tmp_path):
    """Each side in its own process, as the benchmark runs them: unpaced with a warm-up, then paced."""
    args = bench.parse_args(["--osl", "8", "--requests-per-stream", "3"])
    sides = {}
    try:
        for side in bench.SIDES:
            sides[side] = bench.Side(side, tmp_path / f"{side}.log")
        for side in bench.SIDES:
            assert sides[side].answer(timeout_s=180) == {"ready": True}
        for delay, warmup in ((0.0, True), (0.005, False)):
            with FakeServer(token_delay_s=delay) as server:
                results = bench.run_point(sides, server, args, concurrency=2, pair=1, requests=6, warmup=warmup)
            for side, result in results.items():
                assert result["problem"] is None, (side, result)
                assert (result["requests"], result["completed"], result["output_tokens"]) == (6, 6, 48), side
                assert result["server"]["requests"] == 6 + 2 * warmup, side  # the warm-up: one request a stream
                assert result["tpot_ms"] >= 0 and result["cpu_s"] > 0
                assert result["server"]["tpot_ms"] > 0 if delay else result["server"]["tpot_ms"] >= 0  # one write
                assert result["cpu_us_per_token"] == result["cpu_s"] / ((6 + 2 * warmup) * 8) * 1e6
    finally:
        for side in sides.values():
            side.close()
    assert all(side.process.returncode is not None for side in sides.values())


def test_a_runs_missing_tokens_are_reported():
    assert bench._problem(3, 3, [(8, 8)] * 3, 8) is None
    assert bench._problem(3, 2, [(8, 8)] * 2, 8) == "1 of 3 requests failed"
    assert bench._problem(2, 2, [(8, 8), (8, 7)], 8) == "1 requests with (usage tokens, chunks) != (8, 8), e.g. (8, 7)"


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_side_process_exits_when_the_benchmark_is_killed(tmp_path):
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom bench.overhead import "
            "client_throughput as b\ns = b.Side('ours', Path(sys.argv[1]))\nprint(s.process.pid, flush=True)\n"
            "time.sleep(60)\n",
            str(tmp_path / "ours.log"),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    side_pid = None
    try:
        side_pid = int(parent.stdout.readline())
        assert not gone(side_pid)
        parent.send_signal(signal.SIGKILL)  # no finally runs: the side must notice on its own
        parent.wait()
        assert wait_gone(side_pid)
    finally:
        parent.kill()
        parent.wait()
        if side_pid is not None and not gone(side_pid):
            os.kill(side_pid, signal.SIGKILL)  # the test failed: leave nothing behind


# --- the fake server's workers ------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_fake_server_workers_share_the_port_and_each_answers_for_itself():
    prompts = [[1, 2, 3]] * 40

    async def drive(url):
        async with CompletionsClient(url, MODEL) as client:
            return await closed_loop(client, prompts, 6, 20)

    with FakeServer(token_delay_s=0.002, workers=3) as server:
        result = asyncio.run(drive(server.base_url))
        stats = server.stats()
        pids = [w["pid"] for w in stats["workers"]]
    assert all(r.ok and r.output_tokens == 6 and len(r.arrivals) == 6 for r in result.requests)
    assert len(result.requests) == 40 and stats["requests"] == 40 and len(set(pids)) == 3
    assert sum(w["requests"] for w in stats["workers"]) == 40 and 1 <= stats["connections"] <= 40
    assert sum(len(w["tpot_s"]) for w in stats["workers"]) == 40  # each finished stream's achieved pace
    assert all(w["cpu_s"] > 0 for w in stats["workers"])
    assert all(wait_gone(pid) for pid in pids)  # every worker stopped with the server


# --- the client's event scan -------------------------------------------------------------------------------------


def _random_event(rnd: random.Random) -> bytes:
    texts = ["x", "", 'say "completion_tokens": 99, "choices": []', "a\nb", "}{", '\\"usage\\": null', "ü ☃"]
    chunk = {}
    keys = ["id", "choices", "usage", "model"]
    rnd.shuffle(keys)
    for key in keys:
        draw = rnd.random()
        if key in ("id", "model"):
            chunk[key] = rnd.choice(texts)
        elif key == "choices" and draw >= 0.1:
            finish = rnd.choice([None, "length"])
            chunk["choices"] = (
                []
                if draw < 0.2
                else None
                if draw < 0.25
                else [{"text": rnd.choice(texts), "index": 0, "logprobs": None, "finish_reason": finish}]
            )
        elif key == "usage" and draw >= 0.2:
            usage = {
                "prompt_tokens": rnd.randint(0, 5000),
                "total_tokens": 7,
                "completion_tokens": rnd.randint(0, 5000),
            }
            for name in ("prompt_tokens", "completion_tokens"):
                if rnd.random() < 0.1:
                    del usage[name]
            if rnd.random() < 0.1:
                usage["completion_tokens_details"] = {"reasoning_tokens": 3}
            items = list(usage.items())
            rnd.shuffle(items)
            chunk["usage"] = None if draw < 0.3 else {} if draw < 0.35 else dict(items)
    separators = rnd.choice([(", ", ": "), (",", ":"), (" , ", " : ")])
    return json.dumps(chunk, separators=separators, ensure_ascii=rnd.random() < 0.5).encode()


def test_the_scan_reads_what_json_says_or_leaves_the_event_to_json():
    rnd, scanned = random.Random(0), 0
    for _ in range(5000):
        payload, want_prompt = _random_event(rnd), rnd.random() < 0.5
        fast, decoded = scan_event(payload, want_prompt), decode_event(payload)
        if fast is not None:
            scanned += 1
            assert fast == (decoded if want_prompt else decoded[:3] + (None,)), payload
        else:
            assert b'"choices"' not in payload, payload  # only events without choices go to json here
    assert scanned > 4000


def test_the_scan_reads_a_vllm_chunk_and_refuses_what_it_cannot_read():
    vllm = (
        b'{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" a",'
        b'"logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":{"prompt_tokens":32,"total_tokens":'
        b'35,"completion_tokens":3,"prompt_tokens_details":null}}'
    )
    assert scan_event(vllm) == (True, True, 3, 32)
    assert scan_event(vllm, want_prompt=False) == (True, True, 3, None)
    openai_last = b'{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}'
    assert scan_event(openai_last) == (False, True, 3, 5)
    assert scan_event(b'{"choices":[{"text":"x"}],"usage":null}') == (True, False, None, None)
    assert scan_event(b'{"choices":[{"text":"x"}],"usage":{"completion_tokens":2.5}}') is None  # not an integer
    assert scan_event(b'{"choices":[{"text":"x"}],"usage":[1]}') is None  # neither an object nor null
    assert scan_event(b'{"error":{"message":"boom"}}') is None


def test_events_mixing_scanned_and_decoded_chunks_count_every_token_once():
    stream = (
        b'data: {"choices": [{"text": "x"}], "usage": {"prompt_tokens": 4, "completion_tokens": 1}}\r\n\r\n'
        b'data:{"choices":[{"text":"y"}],"usage":{"completion_tokens":3,"prompt_tokens":4}}\n\n'
        b": a comment\n\nevent: ping\n\n"
        b'data: {"error": {"message": "a notice"}}\n\n'
        b'data: {"choices": [{"text": "z"}], "usage": {"prompt_tokens": 4, "completion_tokens": 4}}\n\n'
        b'data: [DONE]\n\ndata: {"choices": [{"text": "after"}]}\n\n'
    )
    timing, first = RequestTiming(sent=0.0), []
    events = _Events(timing, first.append)
    cut = 30  # the first event arrives in two reads
    assert not events.feed(stream[:cut], 1.0)
    assert events.feed(stream[cut:], 2.0)
    assert timing.arrivals == [(2.0, 1), (2.0, 2), (2.0, 1)]  # nothing counted after [DONE]
    assert (timing.prompt_tokens, timing.output_tokens) == (4, 4) and first == [2.0]
    with pytest.raises(json.JSONDecodeError):  # what is not JSON still fails the request, as before
        _Events(RequestTiming(sent=0.0)).feed(b"data: {not json\n\n", 1.0)
