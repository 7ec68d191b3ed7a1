"""A streaming client for OpenAI-compatible `/v1/completions`, and the load models that drive it.

- Closed loop (InferenceX): `concurrency` requests always in flight, a new one
  sent as each finishes, until all prompts are sent.
- Open loop (`vllm bench serve`): requests arrive as a seeded Poisson process
  at `rate` per second, optionally capped at `max_concurrency` in flight.
- Trace replay: requests are sent at their own times (a Mooncake trace's
  timestamps, scaled), whatever the server's pace: open loop.

Prompts are requests (bench.inputs.requests.Request) or plain token ids. A
multi-turn request's next turn is sent by the same slot once it has finished
and the user's think time has passed. With a `salt`, request i carries the
cache salt "salt-i", so no request can hit another's blocks in vLLM's prefix
cache.

The steady-state window is decided from the client's view and reported through
`window.begin()` / `window.end()` at the instants it opens and closes:
closed loop, it opens once every slot holds a request that is already
decoding and closes when the last prompt is sent (the batch drains after);
open loop, it opens when the first request finishes (one request lifetime in,
the number in flight has settled) and closes at the last arrival.
"""

import asyncio
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from bench.engines.base import SAMPLING, WindowHooks
from bench.errors import PointTimeout
from bench.inputs.requests import Request, as_request
from bench.run.window import NoWindow
from bench.secrets import redact
from bench.serve.metrics import RequestTiming


class CompletionsClient:
    """`async with CompletionsClient(url, model) as client: await client.send(prompt, osl)`."""

    def __init__(self, base_url: str, model: str, *, timeout_s: float = 3600.0, api_key: str | None = None):
        self.url = f"{base_url.rstrip('/')}/v1/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self):
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            connector=aiohttp.TCPConnector(limit=0),  # no client-side cap: the load model decides concurrency
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()

    def body(self, prompt: list[int] | str, osl: int, cache_salt: str | None = None) -> dict:
        return ({"cache_salt": cache_salt} if cache_salt else {}) | {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": osl,
            "min_tokens": osl,
            "ignore_eos": SAMPLING.ignore_eos,
            "temperature": SAMPLING.temperature,
            "top_p": SAMPLING.top_p,
            "stream": True,
            # vLLM's continuous usage gives the exact token count of every chunk; others send usage at the end.
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        }

    async def send(
        self, prompt: list[int] | str, osl: int, on_first_token=None, cache_salt: str | None = None, reused: int = 0
    ) -> RequestTiming:
        timing = RequestTiming(sent=time.perf_counter(), reused=reused)
        events = _Events(timing, on_first_token)
        body = self.body(prompt, osl, cache_salt)
        assert self.session is not None, "requests are sent inside `async with` the client"
        try:
            async with self.session.post(self.url, json=body, headers=self.headers) as response:
                if response.status != 200:
                    # The body is the server's text (it may echo the key): redacted whole, then cut short.
                    timing.error = redact(f"HTTP {response.status}: {await response.text()}")[:200]
                    return timing
                # Whatever arrived in one read: under load several events share a read and its timestamp,
                # which keeps the client's cost per token low (as `vllm bench serve` reads). It reads on past
                # [DONE] to the body's end: a body left unread makes aiohttp close the connection rather than
                # pool it, and the next request would open a new one.
                done = False
                async for data in response.content.iter_any():
                    if not done:
                        done = events.feed(data, time.perf_counter())
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, UnicodeDecodeError) as e:
            timing.error = redact(f"{type(e).__name__}: {e}")[:300]
        finally:
            timing.end = time.perf_counter()  # its return, failed or not: the last one ends the duration
        return timing


# What an event says is read straight from its bytes, without decoding its JSON (most of the client's cost per token
# when it did): a key's quotes cannot occur inside a JSON string, where a quote is escaped, so a search for the quoted
# key finds the key itself. An event these cannot read (no "choices" key, a count that is not an integer) is decoded.
_DATA = re.compile(rb"^data:(.*)$", re.MULTILINE)
_CHOICES = re.compile(rb'"choices"\s*:\s*(?:(\[\s*\])|(\[)|null)')  # empty, not empty, or null
_USAGE = re.compile(rb'"usage"\s*:\s*(?:\{\s*\}|(\{)|null)')  # empty or null: none
_COUNT = re.compile(rb"\s*:\s*(\d+)\s*[,}]")
_UNREAD = object()


def _count(payload: bytes, key: bytes, start: int):
    """The integer value of `key` (searched from `start`): None if absent, _UNREAD if not a plain integer."""
    at = payload.find(key, start)
    if at < 0:
        return None
    value = _COUNT.match(payload, at + len(key))
    return int(value[1]) if value else _UNREAD


def scan_event(payload: bytes, want_prompt: bool = True) -> tuple[bool, bool, int | None, int | None] | None:
    """(has choices, has usage, usage's completion_tokens, its prompt_tokens) of one event's JSON, read from its
    bytes; None where they cannot be read so. prompt_tokens only if `want_prompt`."""
    choices = _CHOICES.search(payload)
    if choices is None:
        return None
    usage = _USAGE.search(payload)
    if usage is None or usage[1] is None:
        if usage is None and b'"usage"' in payload:
            return None  # a usage that is neither an object nor null
        return choices[2] is not None, False, None, None
    completion = _count(payload, b'"completion_tokens"', usage.end())
    prompt = _count(payload, b'"prompt_tokens"', usage.end()) if want_prompt else None
    if completion is _UNREAD or prompt is _UNREAD:
        return None
    return choices[2] is not None, True, completion, prompt


def decode_event(payload: bytes) -> tuple[bool, bool, int | None, int | None]:
    """scan_event's answer, from the decoded JSON."""
    chunk = json.loads(payload)
    usage = chunk.get("usage") or {}
    return bool(chunk.get("choices")), bool(usage), usage.get("completion_tokens"), usage.get("prompt_tokens")


class _Events:
    """Server-sent events of one streamed completion, into its timing."""

    def __init__(self, timing: RequestTiming, on_first_token=None):
        self.timing, self.on_first_token = timing, on_first_token
        self.pending = b""
        self.counted = 0

    def feed(self, data: bytes, now: float) -> bool:
        """Take the bytes of one read; True once the stream said [DONE]."""
        buffer = self.pending + data
        end = buffer.rfind(b"\n") + 1  # complete lines only; the rest waits for the next read
        self.pending = buffer[end:]
        for payload in _DATA.findall(buffer, 0, end):
            payload = payload.strip()
            if payload == b"[DONE]":
                return True
            # The prompt's length, once known, is not read again: a server counts it once.
            event = scan_event(payload, self.timing.prompt_tokens is None) or decode_event(payload)
            self._event(*event, now)
        return False

    def _event(self, has_choices: bool, has_usage: bool, total: int | None, prompt: int | None, now: float) -> None:
        timing = self.timing
        if has_choices:
            tokens = total - self.counted if total is not None else 1
            if tokens > 0:
                if not timing.arrivals and self.on_first_token:
                    self.on_first_token(now)
                timing.arrivals.append((now, tokens))
                self.counted += tokens
        if has_usage:
            if prompt is not None:
                timing.prompt_tokens = prompt
            if total is not None:
                timing.output_tokens = total


@dataclass
class LoadResult:
    requests: list[RequestTiming]
    window_open: float | None = None  # perf_counter instants of the steady-state window
    window_close: float | None = None
    notes: list[str] = field(default_factory=list)


class _Steady:
    """Begins and ends the window once each, recording when (client clock)."""

    def __init__(self, window: WindowHooks | None):
        self.window = window or NoWindow()
        self.opened: float | None = None
        self.closed: float | None = None

    def begin(self, at: float | None = None) -> None:
        """Begin now; `at` is the read that filled the load, so its tokens fall inside the window."""
        if self.opened is None:
            self.window.begin()
            self.opened = time.perf_counter() if at is None else at

    def end(self) -> None:
        if self.opened is not None and self.closed is None:
            self.window.end()
            self.closed = time.perf_counter()


class _Sender:
    """Sends requests (and a multi-turn request's later turns) through one client, each with its own salt."""

    def __init__(self, client: CompletionsClient, osl: int, salt: str | None):
        self.client, self.osl, self.salt = client, osl, salt
        self.sent = 0
        self.results: list[RequestTiming] = []

    async def session(self, item, on_first_token=None, on_finished=None) -> None:
        """The request, then each next turn once the previous has finished and its think time passed."""
        request = as_request(item, self.osl) if not isinstance(item, str) else Request(item, self.osl)
        while request is not None:
            salt = f"{self.salt}-{self.sent}" if self.salt else None
            self.sent += 1
            timing = await self.client.send(request.prompt, request.osl, on_first_token, salt, request.reused)
            self.results.append(timing)
            if on_finished:
                on_finished(timing)
            if request.next_turn is None or not timing.ok:
                return
            if request.think_s:
                await asyncio.sleep(request.think_s)
            request = request.next_turn()


async def closed_loop(
    client: CompletionsClient,
    prompts: Iterable,
    osl: int,
    concurrency: int,
    window: WindowHooks | None = None,
    salt: str | None = None,
) -> LoadResult:
    """`concurrency` requests in flight, each slot sending its next prompt as its last one finishes.

    Prompts are taken one ahead of need, so the window closes as the last one is
    sent; a time-sized supply (bench.inputs.workload.PromptSupply) decides there
    how many the point sends. A multi-turn session keeps its slot until its last turn.
    """
    steady = _Steady(window)
    sender = _Sender(client, osl, salt)
    queue = iter(prompts)
    upcoming = next(queue, None)
    decoding = 0

    def first_token(at: float) -> None:
        nonlocal decoding
        decoding += 1
        if decoding == concurrency and upcoming is not None:
            steady.begin(at)

    def finished(timing: RequestTiming) -> None:
        nonlocal decoding
        if timing.arrivals:
            decoding -= 1

    async def worker() -> None:
        nonlocal upcoming
        while upcoming is not None:
            prompt, upcoming = upcoming, next(queue, None)
            if upcoming is None:
                steady.end()
            await sender.session(prompt, first_token, finished)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _result(sender.results, steady)


async def poisson(
    client: CompletionsClient,
    prompts: list,
    osl: int,
    rate: float,
    seed: int = 0,
    max_concurrency: int | None = None,
    window: WindowHooks | None = None,
    salt: str | None = None,
) -> LoadResult:
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, size=len(prompts)))
    return await _open_loop(client, zip(arrivals, prompts), osl, max_concurrency, window, salt)


async def replay(
    client: CompletionsClient,
    requests: list[Request],
    time_scale: float = 1.0,
    max_concurrency: int | None = None,
    window: WindowHooks | None = None,
    salt: str | None = None,
) -> LoadResult:
    """Each request sent at its own time, `at_s` / `time_scale` after the replay starts (a trace's first request
    is at 0): the trace's schedule, open loop. A request without a time is sent at the start."""
    schedule = (((request.at_s or 0.0) / time_scale, request) for request in requests)
    return await _open_loop(client, schedule, 0, max_concurrency, window, salt)  # requests carry their lengths


async def _open_loop(
    client: CompletionsClient,
    schedule,
    osl: int,
    max_concurrency: int | None,
    window: WindowHooks | None,
    salt: str | None,
) -> LoadResult:
    """Requests sent at the scheduled (seconds from now, prompt) instants, whatever is in flight."""
    steady = _Steady(window)
    sender = _Sender(client, osl, salt)
    limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None

    async def one(prompt) -> None:
        if limit is None:
            await sender.session(prompt)
        else:
            async with limit:
                await sender.session(prompt)
        steady.begin()  # the first finish: one request lifetime in, the number in flight has settled

    start = time.perf_counter()
    tasks = []
    for arrival, prompt in schedule:
        delay = start + arrival - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(prompt)))
    steady.end()
    await asyncio.gather(*tasks)
    return _result(sender.results, steady)


def _result(results: list[RequestTiming], steady: _Steady) -> LoadResult:
    result = LoadResult(results, steady.opened, steady.closed)
    if steady.opened is None or steady.closed is None:
        result.notes.append("no steady state: the load never filled before the last request was sent")
    return result


def run_load(coroutine, timeout_s: float | None):
    """Run a load model to completion, raising PointTimeout past `timeout_s`."""

    async def bounded():
        try:
            return await asyncio.wait_for(coroutine, timeout_s)
        except TimeoutError:
            raise PointTimeout(f"the load was still running after {timeout_s:g} s") from None

    return asyncio.run(bounded())
