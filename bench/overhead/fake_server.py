"""A fake OpenAI-compatible streaming `/v1/completions` server, for measuring the client alone.

It generates nothing: a request for `max_tokens` tokens gets `max_tokens`
server-sent events of one token ("x") each, then `data: [DONE]`, as fast as the
client reads them (16 events a write), or paced: with `--token-delay-s D` it
writes one token to every stream in flight each D seconds, on a fixed schedule
(t0 + k * D) as an engine's decode steps do, so that every request's true time
per output token is exactly D (the server records what it achieved: /stats'
tpot_s). With
`stream_options.continuous_usage_stats` every chunk carries `usage` as vLLM's
does (prompt_tokens: the prompt's length, ids or characters; completion_tokens
so far); with `include_usage` alone a last chunk with empty `choices` carries
it, as OpenAI's does. `GET /health` and `GET /v1/models` answer as vLLM's;
`GET /stats` says how many completions it has served, over how many TCP
connections (a client that keeps its connections alive opens few), each
finished stream's achieved seconds per token after the first (tpot_s), the CPU
seconds the server process has used (cpu_s: over a client's run, how close it
came to saturating its core), and the seconds its event loop waited for a CPU
that other processes held (cpu_wait_s, where Linux's schedstat says). Events are
pre-encoded from two templates, so the server costs the client's core little.

It runs in its own process (so it shares neither the client's event loop nor
its GIL), in its own process group, on 127.0.0.1; with `workers` > 1 as that
many processes sharing the port (SO_REUSEPORT: the kernel spreads the
connections), each also on a port of its own for its /stats:

    with FakeServer(token_delay_s=0.0) as server:
        ...  # server.base_url

or by hand: `python -m bench.overhead.fake_server --port 8000 [--token-delay-s 0.01]`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
MODEL = "fake"
BATCH = 16  # unpaced, events per write
REPO_ROOT = Path(__file__).resolve().parents[2]


# --- the server (in its own process) ---------------------------------------------------------------------------


def token_events(head: dict, prompt_tokens: int, tokens: int, continuous: bool):
    """event(n): the server-sent event of token n of `tokens` (1-based), the bytes json.dumps would give, built
    from templates (no JSON encoding per token)."""

    def chunk(finish: str | None) -> bytes:
        text = json.dumps(head | {"choices": [{"text": "x", "index": 0, "logprobs": None, "finish_reason": finish}]})
        if not continuous:
            return b"data: " + text.encode() + b"\n\n"
        usage = b', "usage": {"prompt_tokens": %d, "completion_tokens": %%d, "total_tokens": %%d}}\n\n' % prompt_tokens
        return b"data: " + text[:-1].encode().replace(b"%", b"%%") + usage  # the chunk's last "}" reopened for usage

    middle, last = chunk(None), chunk("length")
    if not continuous:
        return lambda n: last if n == tokens else middle
    return lambda n: (last if n == tokens else middle) % (n, prompt_tokens + n)


class _Stream:
    """One paced completion: its events, written straight to its connection by the ticker."""

    __slots__ = ("transport", "event", "tokens", "chunked", "written", "first", "last", "finished")

    def __init__(self, transport, event, tokens: int, chunked: bool):
        self.transport, self.event, self.tokens, self.chunked = transport, event, tokens, chunked
        self.written = 0
        self.first = self.last = 0.0
        self.finished = asyncio.get_running_loop().create_future()  # True: all written; False: the client left

    def write_next(self) -> bool:
        """Write the next token's event; True once the stream is done (all written, or the connection is gone)."""
        if self.transport is None or self.transport.is_closing():
            self.finished.set_result(False)
            return True
        self.written += 1
        event = self.event(self.written)
        # Chunked transfer encoding framed here as aiohttp would; the response's own writer sends [DONE] and the
        # last chunk after these, on the same transport, so the order holds.
        self.transport.write(b"%x\r\n%b\r\n" % (len(event), event) if self.chunked else event)
        self.last = time.perf_counter()
        if self.written == 1:
            self.first = self.last
        if self.written == self.tokens:
            self.finished.set_result(True)
            return True
        return False


class _Ticker:
    """Writes one token to every stream in flight each `period` seconds, at t0 + k * period (a server behind its
    schedule catches up at once, and its achieved pace shows in the streams' tpot_s)."""

    def __init__(self, period: float):
        self.period = period
        self.streams: dict[_Stream, None] = {}  # insertion-ordered: each stream's place in a tick stays the same
        self.next_at: float | None = None

    def add(self, stream: _Stream) -> None:
        self.streams[stream] = None
        if self.next_at is None:
            loop = asyncio.get_running_loop()
            self.next_at = loop.time() + self.period
            loop.call_at(self.next_at, self._tick)

    def _tick(self) -> None:
        for stream in list(self.streams):
            if stream.write_next():
                del self.streams[stream]
        if self.streams:
            assert self.next_at is not None, "add() schedules the first tick"
            self.next_at += self.period
            asyncio.get_running_loop().call_at(self.next_at, self._tick)
        else:
            self.next_at = None


def _cpu_wait_s() -> float | None:
    """Seconds this thread (the event loop's) has been runnable but waiting for a CPU; None where unknown."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _app(model: str, token_delay_s: float):
    import weakref

    from aiohttp import web
    from aiohttp.http_writer import StreamWriter

    counts = {"requests": 0, "connections": 0}
    tpot_s: list[float] = []
    ticker = _Ticker(token_delay_s) if token_delay_s > 0 else None
    seen: weakref.WeakSet[object] = weakref.WeakSet()  # one transport per TCP connection: a new one is a new connection

    @web.middleware
    async def count(request, handler):
        if request.path == "/v1/completions":
            counts["requests"] += 1
            if request.transport not in seen:
                seen.add(request.transport)
                counts["connections"] += 1
        return await handler(request)

    async def health(request):
        return web.Response()

    async def stats(request):
        return web.json_response(
            counts | {"tpot_s": tpot_s, "cpu_s": time.process_time(), "cpu_wait_s": _cpu_wait_s(), "pid": os.getpid()}
        )

    async def models(request):
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": 0,
                        "owned_by": "fake",
                        "root": model,
                        "max_model_len": 1 << 20,
                    }
                ],
            }
        )

    async def completions(request):
        try:
            body = await request.json()
            tokens = int(16 if body.get("max_tokens") is None else body["max_tokens"])  # 16: OpenAI's default
        except (ValueError, TypeError, AttributeError) as e:
            return web.json_response({"error": {"message": f"bad request: {e}", "type": "BadRequestError"}}, status=400)
        prompt = body.get("prompt", "")
        prompt_tokens = len(prompt) if isinstance(prompt, list | str) else 0  # ids, or characters of a text
        head = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": model}
        options = body.get("stream_options") or {}

        def usage(done: int) -> dict:
            return {"prompt_tokens": prompt_tokens, "completion_tokens": done, "total_tokens": prompt_tokens + done}

        if not body.get("stream"):
            return web.json_response(
                head
                | {
                    "choices": [{"text": "x" * tokens, "index": 0, "logprobs": None, "finish_reason": "length"}],
                    "usage": usage(tokens),
                }
            )

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        writer = await response.prepare(request)
        assert isinstance(writer, StreamWriter), "a new response's writer"
        continuous = bool(options.get("continuous_usage_stats"))
        event = token_events(head, prompt_tokens, tokens, continuous)
        if tokens > 0 and ticker is not None:
            stream = _Stream(writer.transport, event, tokens, writer.chunked)
            ticker.add(stream)
            if not await stream.finished:
                return response  # the client has gone
            first, last = stream.first, stream.last
        else:  # as fast as the client reads: a few events a write keep the server's cost per token small
            first = last = 0.0
            for done in range(1, tokens + 1, BATCH):
                await response.write(b"".join(event(n) for n in range(done, min(done + BATCH, tokens + 1))))
                last = time.perf_counter()
                first = first or last
        if tokens > 1:
            tpot_s.append((last - first) / (tokens - 1))
        tail = b"data: [DONE]\n\n"
        if options.get("include_usage") and not continuous:
            tail = b"data: " + json.dumps(head | {"choices": [], "usage": usage(tokens)}).encode() + b"\n\n" + tail
        await response.write(tail)
        await response.write_eof()
        return response

    app = web.Application(middlewares=[count])
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    return app


async def serve(
    port: int,
    model: str = MODEL,
    token_delay_s: float = 0.0,
    parent_pid: int | None = None,
    reuse_port: bool = False,
    stats_port: int | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, or until `parent_pid` is gone (so no server outlives a killed parent).

    With `reuse_port`, other processes may serve the same port; `stats_port` is a port of this process alone."""
    from aiohttp import web

    runner = web.AppRunner(_app(model, token_delay_s), access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, HOST, port, reuse_port=True if reuse_port else None).start()
        if stats_port is not None:
            await web.TCPSite(runner, HOST, stats_port).start()
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the parent died: we were re-parented
    finally:
        await runner.cleanup()


def _worker_command(
    port: int, model: str, token_delay_s: float, parent_pid: int, stats_port: int | None, reuse_port: bool
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "bench.overhead.fake_server",
        "--port",
        str(port),
        "--model",
        model,
        "--token-delay-s",
        repr(token_delay_s),
        "--parent-pid",
        str(parent_pid),
    ]
    if stats_port is not None:
        command += ["--stats-ports", str(stats_port)]
    return command + (["--reuse-port"] if reuse_port else [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model", default=MODEL)
    p.add_argument("--token-delay-s", type=float, default=0.0, help="pause between tokens (default: none)")
    p.add_argument("--parent-pid", type=int, help="exit once this process (the one that started us) is gone")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument(
        "--stats-ports",
        default="",
        help="with --workers N: N ports, comma-separated, one per process, "
        "each answering for its process alone (/stats)",
    )
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # a worker beside others
    args = p.parse_args(argv)
    stats_ports = [int(s) for s in args.stats_ports.split(",") if s]
    if args.workers > 1 and len(stats_ports) != args.workers:
        p.error(f"--workers {args.workers} needs {args.workers} --stats-ports")
    # The other workers are our children, in our process group, and exit once we are gone; we stop them on the way
    # out (our group gets the same SIGTERM from FakeServer).
    children = [
        subprocess.Popen(
            _worker_command(args.port, args.model, args.token_delay_s, os.getpid(), port, True),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for port in stats_ports[1:]
    ]
    try:
        asyncio.run(
            serve(
                args.port,
                args.model,
                args.token_delay_s,
                args.parent_pid,
                args.reuse_port or args.workers > 1,
                stats_ports[0] if stats_ports else None,
            )
        )
    finally:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0


# --- the parent's side -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class FakeServer:
    """Starts the fake server as a subprocess in its own process group; stops the whole group on exit.

    Ctrl-C reaches only the foreground process group, so the parent stops the server: on the way out of the
    `with` (also on KeyboardInterrupt), and if interrupted while starting it. If the parent is killed outright,
    the server sees itself re-parented and exits within half a second (and its other workers after it).
    """

    def __init__(
        self, token_delay_s: float = 0.0, model: str = MODEL, startup_timeout_s: float = 30.0, workers: int = 1
    ):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.token_delay_s, self.model, self.startup_timeout_s = token_delay_s, model, startup_timeout_s
        self.workers = workers
        self.process: subprocess.Popen | None = None  # the leader: worker 0, the others' parent
        self.port: int | None = None
        self.stats_ports: list[int] = []

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "FakeServer":
        try:
            for _ in range(3):  # another process may take a free port between our look and the server's bind
                self._start(free_port())
                if self._wait_until_healthy():
                    return self
                self.stop()
            assert self.process is not None, "_start made it"
            raise RuntimeError(f"the fake server did not start (exit code {self.process.returncode})")
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def worker_urls(self) -> list[str]:
        """One URL per worker process, each answered by that process alone."""
        return [f"http://{HOST}:{port}" for port in self.stats_ports] or [self.base_url]

    def stats(self) -> dict:
        """{"requests": completions served, "connections": TCP connections they came over, "workers": each
        worker's own /stats (tpot_s, cpu_s, cpu_wait_s, pid, ...)}."""
        workers = []
        for url in self.worker_urls():
            with urllib.request.urlopen(f"{url}/stats", timeout=5.0) as response:
                workers.append(json.loads(response.read()))
        return {
            "requests": sum(w["requests"] for w in workers),
            "connections": sum(w["connections"] for w in workers),
            "workers": workers,
        }

    def _start(self, port: int) -> None:
        self.port = port
        self.stats_ports = [free_port() for _ in range(self.workers)] if self.workers > 1 else []
        command = _worker_command(port, self.model, self.token_delay_s, os.getpid(), None, False)
        if self.workers > 1:
            command += ["--workers", str(self.workers), "--stats-ports", ",".join(map(str, self.stats_ports))]
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )

    def _wait_until_healthy(self) -> bool:
        """True once /health answers (every worker's); False if the server exited first."""
        deadline = time.monotonic() + self.startup_timeout_s
        waiting = [self.base_url, *self.worker_urls()]
        assert self.process is not None, "_start made it"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{waiting[0]}/health", timeout=1.0) as response:
                    if response.status == 200:
                        waiting.pop(0)
                        if not waiting:
                            return True
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise TimeoutError(f"the fake server did not answer /health within {self.startup_timeout_s:g} s")

    def stop(self) -> None:
        """Terminate the server's process group, then kill it if it has not gone in 5 s; idempotent."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            # Even on a second Ctrl-C while waiting. Only while the leader is unreaped: its id is then still the
            # group's. The leader waits for its other workers before it exits, so a leader gone leaves none.
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


if __name__ == "__main__":
    sys.exit(main())
