"""A fake OpenAI-compatible streaming `/v1/completions` server, for measuring the client alone.

It generates nothing: a request for `max_tokens` tokens gets `max_tokens`
server-sent events of one token ("x") each, then `data: [DONE]`, as fast as the
client reads them (or one every `--token-delay-s`). With
`stream_options.continuous_usage_stats` every chunk carries `usage` as vLLM's
does (prompt_tokens: the prompt's length, ids or characters; completion_tokens
so far); with `include_usage` alone a last chunk with empty `choices` carries
it, as OpenAI's does. `GET /health` and `GET /v1/models` answer as vLLM's;
`GET /stats` says how many completions it has served, over how many TCP
connections (a client that keeps its connections alive opens few).

It runs in its own process (so it shares neither the client's event loop nor
its GIL), in its own process group, on 127.0.0.1:

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
REPO_ROOT = Path(__file__).resolve().parents[2]


# --- the server (in its own process) ---------------------------------------------------------------------------

def _app(model: str, token_delay_s: float):
    import weakref

    from aiohttp import web

    counts = {"requests": 0, "connections": 0}
    seen = weakref.WeakSet()  # one transport per TCP connection: a new one is a new connection

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
        return web.json_response(counts)

    async def models(request):
        return web.json_response({"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake", "root": model,
             "max_model_len": 1 << 20}]})

    async def completions(request):
        try:
            body = await request.json()
            tokens = int(16 if body.get("max_tokens") is None else body["max_tokens"])  # 16: OpenAI's default
        except (ValueError, TypeError, AttributeError) as e:
            return web.json_response({"error": {"message": f"bad request: {e}", "type": "BadRequestError"}},
                                     status=400)
        prompt = body.get("prompt", "")
        prompt_tokens = len(prompt) if isinstance(prompt, list | str) else 0  # ids, or characters of a text
        head = {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": model}
        options = body.get("stream_options") or {}

        def usage(done: int) -> dict:
            return {"prompt_tokens": prompt_tokens, "completion_tokens": done, "total_tokens": prompt_tokens + done}

        if not body.get("stream"):
            return web.json_response(head | {
                "choices": [{"text": "x" * tokens, "index": 0, "logprobs": None, "finish_reason": "length"}],
                "usage": usage(tokens)})

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        continuous = bool(options.get("continuous_usage_stats"))
        for done in range(1, tokens + 1):
            chunk = head | {"choices": [{"text": "x", "index": 0, "logprobs": None,
                                         "finish_reason": "length" if done == tokens else None}]}
            if continuous:
                chunk["usage"] = usage(done)
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            if token_delay_s > 0 and done < tokens:
                await asyncio.sleep(token_delay_s)
        if options.get("include_usage") and not continuous:
            await response.write(b"data: " + json.dumps(head | {"choices": [], "usage": usage(tokens)}).encode()
                                 + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application(middlewares=[count])
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    return app


async def serve(port: int, model: str = MODEL, token_delay_s: float = 0.0, parent_pid: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT, or until `parent_pid` is gone (so no server outlives a killed parent)."""
    from aiohttp import web

    runner = web.AppRunner(_app(model, token_delay_s), access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, HOST, port).start()
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the parent died: we were re-parented
    finally:
        await runner.cleanup()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model", default=MODEL)
    p.add_argument("--token-delay-s", type=float, default=0.0, help="pause between tokens (default: none)")
    p.add_argument("--parent-pid", type=int, help="exit once this process (the one that started us) is gone")
    args = p.parse_args(argv)
    asyncio.run(serve(args.port, args.model, args.token_delay_s, args.parent_pid))
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
    the server sees itself re-parented and exits within half a second.
    """

    def __init__(self, token_delay_s: float = 0.0, model: str = MODEL, startup_timeout_s: float = 30.0):
        self.token_delay_s, self.model, self.startup_timeout_s = token_delay_s, model, startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "FakeServer":
        try:
            for _ in range(3):  # another process may take the free port between our look and the server's bind
                self._start(free_port())
                if self._wait_until_healthy():
                    return self
                self.stop()
            raise RuntimeError(f"the fake server did not start (exit code {self.process.returncode})")
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def stats(self) -> dict:
        """{"requests": completions served, "connections": TCP connections they came over}."""
        with urllib.request.urlopen(f"{self.base_url}/stats", timeout=5.0) as response:
            return json.loads(response.read())

    def _start(self, port: int) -> None:
        self.port = port
        command = [sys.executable, "-m", "bench.overhead.fake_server", "--port", str(port), "--model", self.model,
                   "--token-delay-s", repr(self.token_delay_s), "--parent-pid", str(os.getpid())]
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def _wait_until_healthy(self) -> bool:
        """True once /health answers; False if the server exited first."""
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=1.0) as response:
                    if response.status == 200:
                        return True
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
            # group's (the server starts no process of its own, so the group is the leader alone).
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


if __name__ == "__main__":
    sys.exit(main())
