"""Client throughput benchmark: how many streamed tokens per second, over how many concurrent streams, our client
keeps up with, side by side with vLLM's own benchmark client (`vllm bench serve`), on a fake server.

Both clients stream from the same local fake OpenAI-compatible server
(bench.overhead.fake_server: its own processes, pre-encoded events, so it costs
little), closed loop at each `--concurrency`, `--requests-per-stream` requests
per stream of exactly `--osl` output tokens. Each client runs in a subprocess
of its own (started once: vLLM's imports take seconds), the two taking turns
(interleaved, the order alternating pair by pair) because shared machines
drift. Two measurements:

- Ceiling: the server writes tokens as fast as the client reads them; each
  client's streamed output tokens/s and the ratio ours / theirs (target >= 1.0).
  Both warm up first with one request per stream (their --num-warmups), and a
  run streams at least `--ceiling-tokens`. Each client's CPU time per token is
  printed too, and its ratio (theirs / ours: the tokens/s each would stream on
  a core of its own), which other processes' load on a shared machine moves
  much less than it moves tokens/s.
- Distortion: the server writes one token to every stream each
  `--token-delay-ms`, on a fixed schedule, as an engine's decode steps do, so a
  request's true TPOT is that delay; the server records what it achieved, the
  true TPOT used here. Distortion = the client's median TPOT / the server's - 1.
  The highest concurrency at which a client stays within 5 % is what it
  sustains, with the tokens/s that means (streams / TPOT; each run's own rate
  is printed too); the ratio of the two clients' sustained tokens/s is printed
  (target >= 1.0). A run where the server itself fell more than 5 % behind its
  pace (other processes' load) says nothing about the client: not counted, and
  a concurrency without a counted run of both sides is not compared.

The server's own CPU use over each client's run is printed (a worker near
100 % of a core would be the bottleneck; --server-workers spreads it over
processes), and the seconds each side's event loop and the server's waited for
a CPU that other processes held, with the machine's cores and load average: on
a shared machine that wait, not the client, sets the pace. Exit code 0 whether
the targets are met or not (it is a measurement), 1 if a run failed or a token
count was not exact.

    python -m bench.overhead.client_throughput [--osl 256] [--concurrency 1,16,64,256,1024] [--token-delay-ms 20]
        [--requests-per-stream 2] [--ceiling-tokens 200000] [--pairs 1] [--server-workers 1]
        [--only ceiling|distortion]

To find where a client stops keeping up, go past 1024 streams (--concurrency 1024,1536,2048).
"""

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

MODULE = "bench.overhead.client_throughput"
REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_DISTORTION = 0.05  # 5 %: a client's median TPOT within this of the true one, and the server's pace within it too
TOKENIZER_CARD = "tiny-dense"  # vLLM's random dataset makes its prompts with a tokenizer: this card's
VOCAB_SIZE = 32_000  # the fake server reads no token id: any vocabulary does
ISL = 32
SIDES = ("ours", "vllm")
NAMES = {"ours": "ours", "vllm": "vllm bench serve"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--osl", type=int, default=256, help="output tokens per request (default 256)")
    p.add_argument("--concurrency", default="1,16,64,256,1024", help="streams, comma-separated")
    p.add_argument("--token-delay-ms", type=float, default=20.0, help="the paced server's TPOT (default 20)")
    p.add_argument("--requests-per-stream", type=int, default=2)
    p.add_argument(
        "--ceiling-tokens",
        type=int,
        default=200_000,
        help="ceiling: at least this many output tokens a run, more requests per stream if need be",
    )
    p.add_argument("--pairs", type=int, default=1, help="interleaved runs of each side per point (default 1)")
    p.add_argument("--server-workers", type=int, default=1, help="fake server processes (default 1)")
    p.add_argument("--only", choices=["ceiling", "distortion"], help="run one measurement only")
    p.add_argument("--run-timeout-s", type=float, default=900.0, help="give up on a side's run after this")
    p.add_argument("--side-worker", choices=SIDES, help=argparse.SUPPRESS)  # a side's process
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        args.concurrencies = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        p.error(f"--concurrency {args.concurrency!r}: comma-separated integers")
    if min(args.concurrencies) < 1 or args.osl < 2 or args.requests_per_stream < 1 or args.pairs < 1:
        p.error("--concurrency, --requests-per-stream and --pairs must be positive, --osl at least 2")
    if args.token_delay_ms <= 0 or args.server_workers < 1:
        p.error("--token-delay-ms and --server-workers must be positive")
    return args


# --- what is computed from the measurements ----------------------------------------------------------------------


def distortion(measured_tpot_ms: float, true_tpot_ms: float) -> float:
    """How far a client's median TPOT is from the true one, as a fraction (+0.05: 5 % too slow)."""
    return measured_tpot_ms / true_tpot_ms - 1


def median_tpot_ms(timings) -> float | None:
    """The median TPOT (ms) of requests as bench.serve.metrics.summarize gives it: what our client reports."""
    from bench.serve.metrics import Slo, summarize

    metrics = summarize(timings, Slo())
    return metrics.latency_ms.tpot.median if metrics.latency_ms else None


@dataclass(frozen=True)
class Point:
    """One side's run at one concurrency of the paced measurement."""

    concurrency: int
    output_tok_s: float
    tpot_ms: float  # the client's median TPOT
    true_tpot_ms: float  # the server's achieved median TPOT over the same requests
    nominal_tpot_ms: float  # the delay asked of the server
    exact: bool = True  # every request completed with every token counted

    @property
    def distortion(self) -> float:
        return distortion(self.tpot_ms, self.true_tpot_ms)

    @property
    def streaming_tok_s(self) -> float:
        """The tokens/s this many streams mean at the asked pace (the run's own rate counts its ramp-up and drain,
        and how well the server kept its pace)."""
        return self.concurrency * 1000 / self.nominal_tpot_ms

    @property
    def server_kept_pace(self) -> bool:
        return abs(distortion(self.true_tpot_ms, self.nominal_tpot_ms)) <= MAX_DISTORTION

    @property
    def sustained(self) -> bool:
        return self.exact and self.server_kept_pace and abs(self.distortion) <= MAX_DISTORTION


def measurable(points: list[Point]) -> set[int]:
    """The concurrencies with a run where the server kept its pace: where the load asked was delivered, so the
    client's distortion says something about the client."""
    return {p.concurrency for p in points if p.server_kept_pace}


def highest_sustained(points: list[Point], among: set[int] | None = None) -> Point | None:
    """The highest-concurrency point a client sustained (within 5 %), or None. Only runs where the server kept its
    pace count (see measurable), at the concurrencies `among` (all, if None); a concurrency with several such runs
    counts by their medians (tokens/s, the client's TPOT, the server's), and a run that missed a token fails it."""
    best = None
    for concurrency in sorted(measurable(points) & (among if among is not None else measurable(points))):
        runs = [p for p in points if p.concurrency == concurrency]
        valid = [p for p in runs if p.server_kept_pace]
        median = Point(
            concurrency,
            statistics.median(p.output_tok_s for p in valid),
            statistics.median(p.tpot_ms for p in valid),
            statistics.median(p.true_tpot_ms for p in valid),
            runs[0].nominal_tpot_ms,
            all(p.exact for p in runs),
        )
        if median.sustained:
            best = median
    return best


def server_delta(before: dict, after: dict, wall_s: float) -> dict:
    """What the fake server did between two FakeServer.stats() taken around a client's run, whose span was
    `wall_s` (the server works for no one else meanwhile): requests, its achieved median TPOT (ms), each worker's
    CPU share of the span, and the seconds its workers waited for a CPU."""
    tpots, shares, waited = [], [], 0.0
    for b, a in zip(before["workers"], after["workers"], strict=True):
        tpots += a["tpot_s"][len(b["tpot_s"]) :]
        shares.append((a["cpu_s"] - b["cpu_s"]) / wall_s if wall_s > 0 else 0.0)
        if a.get("cpu_wait_s") is not None and b.get("cpu_wait_s") is not None:
            waited += a["cpu_wait_s"] - b["cpu_wait_s"]
    return {
        "requests": after["requests"] - before["requests"],
        "tpot_ms": statistics.median(tpots) * 1000 if tpots else None,
        "cpu_shares": shares,
        "cpu_wait_s": waited,
    }


# --- each side, in its own process -----------------------------------------------------------------------------


def _cpu_wait_s() -> float | None:
    from bench.overhead.replay import runqueue_wait_s

    return runqueue_wait_s()


class _Span:
    """The wall and CPU seconds of this process, and its event loop's CPU wait, from now until stop()."""

    def __init__(self):
        self.wall, self.cpu, self.wait = time.perf_counter(), time.process_time(), _cpu_wait_s()

    def stop(self) -> dict:
        wait = _cpu_wait_s()
        return {
            "wall_s": time.perf_counter() - self.wall,
            "cpu_s": time.process_time() - self.cpu,
            "cpu_wait_s": wait - self.wait if wait is not None and self.wait is not None else None,
        }


def _problem(requests: int, completed: int, counts: list[tuple[int, int]], osl: int) -> str | None:
    """None when every request completed with all `osl` tokens, counted from usage and chunk by chunk."""
    if completed != requests:
        return f"{requests - completed} of {requests} requests failed"
    wrong = [c for c in counts if c != (osl, osl)]
    if wrong:
        return f"{len(wrong)} requests with (usage tokens, chunks) != ({osl}, {osl}), e.g. {wrong[0]}"
    return None


def measure_ours(base_url: str, concurrency: int, osl: int, requests: int, warmup: bool) -> dict:
    import asyncio

    import numpy as np

    from bench.inputs.requests import token_ids
    from bench.overhead.fake_server import MODEL
    from bench.serve.client import CompletionsClient, closed_loop
    from bench.serve.metrics import Slo, summarize

    rng = np.random.default_rng(0)
    prompts = [token_ids(rng, VOCAB_SIZE, ISL) for _ in range(requests)]

    async def drive():
        async with CompletionsClient(base_url, MODEL) as client:
            if warmup:
                await closed_loop(client, prompts[:concurrency], osl, concurrency)  # as their --num-warmups
            return await closed_loop(client, prompts, osl, concurrency)

    span = _Span()
    result = asyncio.run(drive())
    metrics = summarize(result.requests, Slo())
    spent = span.stop()
    # The server sends one token a chunk: a request's chunks, each counted once, are its tokens.
    counts = [
        (r.output_tokens, len(r.arrivals) if sum(n for _, n in r.arrivals) == len(r.arrivals) else -1)
        for r in result.requests
        if r.ok
    ]
    return spent | {
        "requests": requests,
        "completed": metrics.completed,
        "output_tokens": metrics.output_tokens or 0,
        "output_tok_s": metrics.output_tok_s or 0.0,
        "tpot_ms": metrics.latency_ms.tpot.median if metrics.latency_ms else None,
        "problem": _problem(requests, metrics.completed, counts, osl),
    }


def vllm_measurer():
    """measure(...) for `vllm bench serve`, run as its CLI would (vllm.benchmarks.serve.main, parsed arguments)."""
    import vllm.benchmarks.serve as serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    from bench.inputs.cards import load_card
    from bench.overhead.fake_server import MODEL

    tokenizer = str(load_card(TOKENIZER_CARD).path)
    spent = {}
    benchmark = serve.benchmark

    async def timed(*args, **kwargs):  # the span of its benchmark() call (warm-up, run, metrics), as ours above
        span = _Span()
        try:
            return await benchmark(*args, **kwargs)
        finally:
            spent.update(span.stop())

    serve.benchmark = timed

    def measure(base_url: str, concurrency: int, osl: int, requests: int, warmup: bool) -> dict:
        parser = FlexibleArgumentParser()
        serve.add_cli_args(parser)
        args = parser.parse_args(
            [
                "--backend",
                "vllm",
                "--base-url",
                base_url,
                "--model",
                MODEL,
                "--tokenizer",
                tokenizer,
                "--dataset-name",
                "random",
                "--random-input-len",
                str(ISL),
                "--random-output-len",
                str(osl),
                "--random-range-ratio",
                "0",
                "--num-prompts",
                str(requests),
                "--max-concurrency",
                str(concurrency),
                "--request-rate",
                "inf",
                "--ignore-eos",
                "--seed",
                "0",
                "--disable-tqdm",
                "--temperature",
                "0",
                "--num-warmups",
                str(concurrency if warmup else 0),
                "--percentile-metrics",
                "ttft,tpot,itl,e2el",
                "--metric-percentiles",
                "50,90,99",
                "--save-detailed",  # per-request fields kept in its result
            ]
        )
        result = serve.main(args)
        ok = [not error for error in result["errors"]]
        counts = [(n, len(itl) + 1) for n, itl, good in zip(result["output_lens"], result["itls"], ok) if good]
        return dict(spent) | {
            "requests": requests,
            "completed": result["completed"],
            "output_tokens": result["total_output_tokens"],
            "output_tok_s": result["output_throughput"],
            "tpot_ms": result["median_tpot_ms"] if result["completed"] else None,
            "problem": _problem(requests, result["completed"], counts, osl),
        }

    return measure


def _exit_with(parent_pid: int | None) -> None:
    """Exit at once if the process that started us goes (killed outright: no finally of its ran)."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    if parent_pid is not None:
        threading.Thread(target=watch, daemon=True).start()


def side_worker(side: str, parent_pid: int | None) -> NoReturn:
    """A side's process: one JSON run in on stdin, one JSON result out on stdout, until stdin closes.

    It leaves with os._exit, at once: threads a library started (vLLM's import does) would keep it alive."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the measured client prints goes to the log, not among the answers
    _exit_with(parent_pid)
    code = 1
    try:
        measure = measure_ours if side == "ours" else vllm_measurer()
        answers.write(json.dumps({"ready": True}) + "\n")
        for line in sys.stdin:
            try:
                result = measure(**json.loads(line))
            except Exception:
                result = {"error": traceback.format_exc()[-3000:]}
            answers.write(json.dumps(result) + "\n")
        code = 0
    finally:  # also on Ctrl-C
        sys.stderr.flush()
        os._exit(code)


# --- the parent --------------------------------------------------------------------------------------------------


class Side:
    """A side's process, started once; run() hands it one measurement and waits for the answer."""

    def __init__(self, side: str, log: Path):
        self.side, self.log = side, log
        with open(log, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", MODULE, "--side-worker", side, "--parent-pid", str(os.getpid())],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        assert self.process.stdin is not None and self.process.stdout is not None  # both piped above
        self.stdin, self.stdout = self.process.stdin, self.process.stdout

    def answer(self, timeout_s: float) -> dict:
        ready, _, _ = select.select([self.stdout], [], [], timeout_s)
        line = self.stdout.readline() if ready else None
        if not line:
            tail = self.log.read_text()[-2000:]
            why = "did not answer in time" if ready == [] else f"exited ({self.process.poll()})"
            raise RuntimeError(f"{NAMES[self.side]}'s process {why}; its log ends:\n{tail}")
        return json.loads(line)

    def run(self, timeout_s: float, **run) -> dict:
        self.stdin.write(json.dumps(run) + "\n")
        self.stdin.flush()
        return self.answer(timeout_s)

    def close(self) -> None:
        """End the worker: its input closed, it leaves (an idle one at once); one still measuring (we were
        interrupted) is terminated after 2 s, killed after 3 more."""
        try:
            self.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # a SIGTERM unwinds as Ctrl-C does: every `finally` runs, every process is stopped


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def _cpu(result: dict) -> str:
    waited, per_token = result.get("cpu_wait_s"), result.get("cpu_us_per_token")
    return (
        f"cpu {result['cpu_s'] / result['wall_s']:.0%}"
        + (f" ({per_token:.2f} us/token)" if per_token is not None else "")
        + (f", waited {waited:.1f} s" if waited is not None else "")
    )


def _server(delta: dict) -> str:
    shares = "/".join(f"{share:.0%}" for share in delta["cpu_shares"])
    return f"server cpu {shares}, waited {delta['cpu_wait_s']:.1f} s"


def run_point(sides: dict, server, args, concurrency: int, pair: int, requests: int, warmup: bool) -> dict:
    """Both sides at one concurrency, in this pair's order; each side's result with the server's view of it."""
    order = SIDES if pair % 2 == 0 else SIDES[::-1]
    results = {}
    for side in order:
        before = server.stats()
        result = sides[side].run(
            args.run_timeout_s,
            base_url=server.base_url,
            concurrency=concurrency,
            osl=args.osl,
            requests=requests,
            warmup=warmup,
        )
        if "error" in result:
            raise RuntimeError(f"{NAMES[side]} failed at concurrency {concurrency}:\n{result['error']}")
        delta = server_delta(before, server.stats(), result["wall_s"])
        # Per token the server streamed in the client's span (its warm-up included, as in its CPU seconds): what
        # a token costs the client, whatever share of the CPUs other processes left it.
        tokens = delta["requests"] * args.osl
        per_token = result["cpu_s"] / tokens * 1e6 if tokens else None
        results[side] = result | {"server": delta, "cpu_us_per_token": per_token}
    return results


def ceiling_requests(concurrency: int, args) -> int:
    """Requests for a ceiling run: `--requests-per-stream` each, and at least `--ceiling-tokens` in all."""
    return max(concurrency * args.requests_per_stream, -(-args.ceiling_tokens // args.osl))


def ceiling(sides, args, failures: list[str]) -> dict[int, list[float]]:
    from bench.overhead.fake_server import FakeServer

    print(
        f"\n== ceiling: tokens as fast as each client reads them; one warm-up request per stream first; at least "
        f"{args.ceiling_tokens:,} tokens a run =="
    )
    ratios: dict[int, list[float]] = {}
    costs: dict[int, list[float]] = {}
    with FakeServer(token_delay_s=0.0, workers=args.server_workers) as server:
        for concurrency in args.concurrencies:
            requests = ceiling_requests(concurrency, args)
            for pair in range(args.pairs):
                r = run_point(sides, server, args, concurrency, pair, requests, warmup=True)
                ratio = r["ours"]["output_tok_s"] / r["vllm"]["output_tok_s"]
                ratios.setdefault(concurrency, []).append(ratio)
                cost = r["vllm"]["cpu_us_per_token"] / r["ours"]["cpu_us_per_token"]
                costs.setdefault(concurrency, []).append(cost)
                for side in SIDES:
                    head = f"{concurrency:>5} streams, {requests} requests" if side == "ours" else ""
                    tail = (
                        f"ratio {ratio:.3f} (CPU per token: {cost:.3f}), load {os.getloadavg()[0]:.2f}"
                        if side == "vllm"
                        else ""
                    )
                    print(
                        f"{head:<28} {side:<4} {r[side]['output_tok_s']:>9,.0f} tok/s | client {_cpu(r[side])} | "
                        f"{_server(r[side]['server'])}" + (f" | {tail}" if tail else ""),
                        flush=True,
                    )
                failures += [
                    f"ceiling, {concurrency} streams, {NAMES[s]}: {r[s]['problem']}" for s in SIDES if r[s]["problem"]
                ]
    print(
        "ceiling ratio, tok/s ours / vllm bench serve, median per concurrency: "
        + ", ".join(f"{c}: {statistics.median(v):.3f}" for c, v in ratios.items())
        + " (target >= 1.0)"
    )
    print(
        "client CPU per token, vllm bench serve's / ours (tokens/s each would stream on a core of its own), "
        "median per concurrency: " + ", ".join(f"{c}: {statistics.median(v):.3f}" for c, v in costs.items())
    )
    return ratios


def paced(sides, args, failures: list[str]) -> dict[str, list[Point]]:
    from bench.overhead.fake_server import FakeServer

    delay = args.token_delay_ms
    print(
        f"\n== distortion: the server writes a token to every stream each {delay:g} ms (true TPOT {delay:g} ms, "
        f"as achieved by the server); within {MAX_DISTORTION:.0%} counts as sustained =="
    )
    points: dict[str, list[Point]] = {side: [] for side in SIDES}
    with FakeServer(token_delay_s=delay / 1000, workers=args.server_workers) as server:
        for concurrency in args.concurrencies:
            for pair in range(args.pairs):
                r = run_point(
                    sides, server, args, concurrency, pair, concurrency * args.requests_per_stream, warmup=False
                )
                for side in SIDES:
                    result, delta = r[side], r[side]["server"]
                    head = (
                        f"{concurrency:>5} streams, {concurrency * 1000 / delay:,.0f} tok/s asked"
                        if side == "ours"
                        else ""
                    )
                    if result["problem"]:
                        failures.append(f"distortion, {concurrency} streams, {NAMES[side]}: {result['problem']}")
                    if result["tpot_ms"] is None or delta["tpot_ms"] is None:
                        failures.append(f"distortion, {concurrency} streams, {NAMES[side]}: no TPOT")
                        print(f"{head:<34} {side:<4} no TPOT", flush=True)
                        continue
                    point = Point(
                        concurrency,
                        result["output_tok_s"],
                        result["tpot_ms"],
                        delta["tpot_ms"],
                        delay,
                        result["problem"] is None,
                    )
                    points[side].append(point)
                    verdict = "ok" if point.sustained else "SERVER BEHIND" if not point.server_kept_pace else "OVER"
                    print(
                        f"{head:<34} {side:<4} {result['output_tok_s']:>8,.0f} tok/s, TPOT {result['tpot_ms']:.3f} "
                        f"ms vs the server's {delta['tpot_ms']:.3f}: {_pct(point.distortion)} {verdict} | client "
                        f"{_cpu(result)} | {_server(delta)}"
                        + (f" | load {os.getloadavg()[0]:.2f}" if side == "vllm" else ""),
                        flush=True,
                    )
    return points


def report_sustained(points: dict[str, list[Point]]) -> None:
    """Each client's highest sustained concurrency, over the concurrencies both were measured at (the server kept
    its pace in a run of each), and the ratio of their sustained tokens/s."""
    tried = sorted({p.concurrency for side in SIDES for p in points[side]})
    common = measurable(points["ours"]) & measurable(points["vllm"])
    skipped = [c for c in tried if c not in common]
    if skipped:
        print(
            f"not measured at {', '.join(map(str, skipped))} streams: the server fell behind its pace in every run "
            "of a side there (other processes' load, or more than the machine can serve); try --pairs 3"
        )
    best = {side: highest_sustained(points[side], common) for side in SIDES}
    for side in SIDES:
        b = best[side]
        print(
            f"{NAMES[side]}: "
            + (
                f"sustains {b.concurrency} streams, {b.streaming_tok_s:,.0f} streamed tok/s "
                f"(measured over its runs: {b.output_tok_s:,.0f}), within {MAX_DISTORTION:.0%} "
                f"TPOT distortion ({_pct(b.distortion)})"
                if b
                else f"no concurrency measured within {MAX_DISTORTION:.0%} TPOT distortion"
            )
        )
    if best["ours"] and best["vllm"]:
        print(
            f"sustained streamed tok/s ratio (ours / vllm bench serve): "
            f"{best['ours'].streaming_tok_s / best['vllm'].streaming_tok_s:.3f} (target >= 1.0)"
        )
    if common and any(b and b.concurrency == max(tried) for b in best.values()):
        print(
            f"(the highest concurrency tried, {max(tried)}, was sustained: try higher --concurrency to find the limit)"
        )


def machine() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} cores ({usable} usable here), load average {load} (1, 5, 15 min)"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.side_worker:
        return side_worker(args.side_worker, args.parent_pid)
    signal.signal(signal.SIGTERM, _interrupt)
    print(machine())
    print(
        f"OSL {args.osl}, ISL {ISL}, {args.requests_per_stream} requests per stream, closed loop; fake server: "
        f"{args.server_workers} process(es), pre-encoded events; each client in its own process, "
        f"{args.pairs} interleaved pair(s) per point",
        flush=True,
    )
    failures: list[str] = []
    sides: dict[str, Side] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for side in SIDES:  # both start (and import) at once, before anything is measured
                sides[side] = Side(side, Path(tmp) / f"{side}.log")
            for side in SIDES:
                sides[side].answer(timeout_s=300)
            if args.only != "distortion":
                ceiling(sides, args, failures)
            if args.only != "ceiling":
                report_sustained(paced(sides, args, failures))
        finally:
            for worker in sides.values():
                worker.close()
    print(machine().replace("machine:", "machine at the end:"))
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
