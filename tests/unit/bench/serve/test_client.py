"""The load models' steady-state window, driven by a stand-in client whose answers come in a known order."""

import asyncio
import time

from bench.serve.client import closed_loop, poisson, run_load
from bench.serve.metrics import RequestTiming

OSL = 8


class FakeClient:
    """Answers every request with its first token after 10 ms and the rest 50 ms later."""

    async def send(self, prompt, osl, on_first_token=None, cache_salt=None, reused=0) -> RequestTiming:
        timing = RequestTiming(sent=time.perf_counter(), prompt_tokens=len(prompt), output_tokens=osl)
        await asyncio.sleep(0.01)
        first = time.perf_counter()
        if on_first_token:
            on_first_token(first)
        timing.arrivals.append((first, 1))
        await asyncio.sleep(0.05)
        timing.end = time.perf_counter()
        timing.arrivals.append((timing.end, osl - 1))
        return timing


class Hooks:
    def __init__(self):
        self.calls = []

    def begin(self):
        self.calls.append(("begin", time.perf_counter()))

    def end(self):
        self.calls.append(("end", time.perf_counter()))


def test_closed_loop_opens_once_every_slot_decodes_and_closes_at_the_last_send():
    hooks = Hooks()
    result = run_load(closed_loop(FakeClient(), [[1, 2, 3]] * 8, OSL, 2, hooks), 30)
    assert [name for name, _ in hooks.calls] == ["begin", "end"]
    assert result.window_open is not None and result.window_close > result.window_open and result.notes == []
    # it began at the read that had both first requests decoding, and ended as the last prompt was taken
    first_tokens = sorted(r.arrivals[0][0] for r in result.requests)
    assert result.window_open == first_tokens[1]
    sends = sorted(r.sent for r in result.requests)
    assert sends[-2] <= result.window_close <= sends[-1]
    assert len(result.requests) == 8 and all(r.ok for r in result.requests)


def test_closed_loop_that_never_fills_says_so():
    hooks = Hooks()
    result = run_load(closed_loop(FakeClient(), [[1]] * 2, OSL, 2, hooks), 30)  # no request left to queue
    assert hooks.calls == [] and result.window_open is None
    assert result.notes == ["no steady state: the load never filled before the last request was sent"]


def test_open_loop_opens_at_the_first_finish_and_closes_at_the_last_arrival():
    hooks = Hooks()
    result = run_load(poisson(FakeClient(), [[1]] * 20, OSL, rate=200.0, seed=3, window=hooks), 30)
    assert [name for name, _ in hooks.calls] == ["begin", "end"]
    first_finish = min(r.end for r in result.requests)
    # the last arrival is scheduled before its request runs, so the window ends before that request is sent
    assert first_finish <= result.window_open < result.window_close <= max(r.sent for r in result.requests)
