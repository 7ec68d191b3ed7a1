"""Parity benchmark: our client beside AIPerf and GuideLLM, same vLLM server, same load.

One vLLM server on loopback (prefix caching off, so no side is served from another's cache) serves
every side, in interleaved rounds (ours, AIPerf, GuideLLM, ...), each in a fresh process: closed loop at
`--concurrency`, `--num-prompts` requests of ISL prompt tokens and exactly OSL output tokens (ignore_eos).
Each tool is run through its own command line, from its own virtual environment (bench.overhead.peer_tools),
and read back from its own result file, the figures tokencost's importers take. Printed per round and as
medians: median TTFT, median TPOT and output tokens/s, each as a ratio peer / ours (target: within 5 %).

What the tools call these:
- AIPerf 0.13: TTFT ends at the first chunk with text; "inter token latency" is (latency - TTFT) /
  (tokens - 1), our TPOT; latency ends at the last chunk with text. Token counts are the server's
  (--use-server-token-count): by default AIPerf re-tokenizes the text, which read 147.4 tokens for
  every 128 generated here (random weights). Paced with a request rate of 1000/s (constant arrivals) on
  top of the concurrency, or its scheduler busy-polls for free slots and takes a third of two cores.
- GuideLLM 0.8.1: TTFT starts as the request's headers are written and ends at the first chunk with text;
  its "ITL" is (last chunk - first chunk) / (tokens - 1), our TPOT, its median weighted by tokens; its
  "TPOT" counts the TTFT in and is not used. It starts a worker process per stream (with one process for
  all streams it kept fewer requests in flight here, 2.7 of 4 against 3.2-3.5).
Beside each side: the server's own mean TTFT and inter-token latency over the side's requests (its /metrics),
the requests in flight on average (Little's law: completed x mean E2E / duration) and the client's CPU seconds.
On a small machine the tools' CPU use slows the co-located server, so a ratio outside 5 % is explained from
them: against the server's own means (did the tool measure differently, or did the server run differently?),
and for throughput as requests in flight x the server's pace. On two busy cores vLLM's front end (which then
merges a request's pending tokens into one chunk) or the client can fall behind a stream: that request's
first token comes late and the rest together, so its TTFT reads long and its TPOT near 0.

    python -m bench.overhead.parity [--model tiny-dense] [--concurrency 4] [--num-prompts 64] [--isl 128]
                                    [--osl 128] [--rounds 3] [--keep DIR]
"""

import argparse
import json
import math
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

from bench.overhead.common import answer_side, run_side_process
from bench.prometheus import summed

TOOL_TIMEOUT_S = 900
TARGET = 0.05  # ratios within 5 % of 1 need no explanation
SERVER_MEANS = ("time_to_first_token", "inter_token_latency")  # the server's histograms, in seconds
METRICS = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "output_tok_s": "output tok/s"}
DEFINITIONS = {  # how a tool's figure differs from ours by definition
    ("aiperf", "ttft_ms"): "AIPerf's TTFT ends at the first chunk with text, ours at the first with a token",
    ("aiperf", "tpot_ms"): "AIPerf's latency ends at the last chunk with text, ours at the last token",
    ("guidellm", "ttft_ms"): "GuideLLM's TTFT starts as the request's headers are written (ours before the "
    "request is made) and ends at the first chunk with text",
    ("guidellm", "tpot_ms"): "GuideLLM's span ends at the last chunk with text",
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"is {value}; give a positive integer")
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-dense")
    p.add_argument("--concurrency", type=positive_int, default=4)
    p.add_argument("--num-prompts", type=positive_int, default=64)
    p.add_argument("--isl", type=positive_int, default=128)
    p.add_argument("--osl", type=positive_int, default=128)
    p.add_argument("--rounds", type=positive_int, default=3)
    p.add_argument("--keep", type=Path, help="keep each tool's last result file in this directory")
    p.add_argument("--side", choices=["ours"], help=argparse.SUPPRESS)  # our side, in a subprocess
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_ours(args) -> dict:
    import asyncio

    from bench.inputs.cards import load_card
    from bench.inputs.workload import Workload
    from bench.serve.client import CompletionsClient, closed_loop
    from bench.serve.metrics import Slo, summarize

    card = load_card(args.model)
    prompts = Workload(isl=args.isl, osl=args.osl, seed=args.seed).prompts(args.num_prompts, card.vocab_size)

    async def drive():
        async with CompletionsClient(args.base_url, card.name) as client:
            return await closed_loop(client, prompts, args.osl, args.concurrency)

    metrics = summarize(asyncio.run(drive()).requests, Slo())
    latency = metrics.latency_ms
    if latency is None:
        raise RuntimeError(f"none of {args.num_prompts} requests completed against {args.base_url}")
    return {
        "ttft_ms": latency.ttft.median,
        "ttft_mean_ms": latency.ttft.mean,
        "tpot_ms": latency.tpot.median,
        "tpot_mean_ms": latency.tpot.mean,
        "e2e_mean_ms": latency.e2e.mean,
        "output_tok_s": metrics.output_tok_s,
        "completed": metrics.completed,
        "output_tokens": metrics.output_tokens,
        "elapsed_s": metrics.duration_s,
    }


def aiperf_command(
    bin_dir: Path,
    base_url: str,
    card,
    concurrency: int,
    num_prompts: int,
    isl: int,
    osl: int,
    out_dir: Path,
    seed: int = 0,
) -> list[str]:
    """`aiperf profile`: synthetic prompts of exactly ISL tokens, exactly OSL output tokens, server token counts."""
    extra = {
        "ignore_eos": True,
        "min_tokens": osl,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }
    return [
        str(bin_dir / "aiperf"),
        "profile",
        "--model",
        card.name,
        "--tokenizer",
        str(card.path),
        "--url",
        base_url,
        "--endpoint-type",
        "completions",
        "--streaming",
        "--isl",
        str(isl),
        "--isl-stddev",
        "0",
        "--osl",
        str(osl),
        "--osl-stddev",
        "0",
        "--concurrency",
        str(concurrency),
        "--request-count",
        str(num_prompts),
        "--request-rate",
        "1000",
        "--arrival-pattern",
        "constant",
        "--use-server-token-count",
        "--extra-inputs",
        json.dumps(extra),
        "--random-seed",
        str(seed),
        "--artifact-dir",
        str(out_dir),
        "--ui",
        "none",
        "--no-server-metrics",
        "--no-gpu-telemetry",
    ]


def guidellm_command(
    bin_dir: Path,
    base_url: str,
    card,
    concurrency: int,
    num_prompts: int,
    isl: int,
    osl: int,
    out_file: Path,
    seed: int = 0,
) -> list[str]:
    """`guidellm run`: synthetic prompts of ISL tokens, OSL output tokens (GuideLLM sends ignore_eos itself)."""
    return [
        str(bin_dir / "guidellm"),
        "run",
        "--backend",
        f"kind=openai_http,target={base_url},model={card.name},request_format=/v1/completions,http2=false",
        "--profile",
        f"kind=concurrent,streams={concurrency}",
        "--constraint",
        f"kind=max_requests,count={num_prompts}",
        "--tokenizer",
        f"kind=huggingface_auto,model={card.path}",
        "--data",
        f"kind=synthetic_text,prompt_tokens={isl},output_tokens={osl}",
        "--seed",
        f"kind=static,value={seed}",
        "--output",
        f"kind=json,path={out_file}",
        "--disable-console",
    ]


def run_tool(command: list[str], log: Path, timeout_s: float = TOOL_TIMEOUT_S) -> None:
    """Run a peer's command line in a session of its own (so every process it starts can be ended with it),
    its output to `log`; nothing of it outlives a failure, a timeout or Ctrl-C."""
    from bench.errors import UserError

    env = os.environ | {"HF_HUB_DISABLE_TELEMETRY": "1"}  # the tokenizer is a local path: nothing to fetch
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        _end_group(process)
    if code != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        what = f"ran past {timeout_s:g} s" if code is None else f"exited with code {code}"
        raise UserError(Path(command[0]).name, f"{what} ({tail[0][:200]})", f"read its log {log}")


def _end_group(process: subprocess.Popen) -> None:
    """SIGTERM to the tool's process group, SIGKILL to whatever is left of it 10 s later."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def run_aiperf(
    bin_dir: Path,
    base_url: str,
    card,
    concurrency: int,
    num_prompts: int,
    isl: int,
    osl: int,
    workdir: Path,
    seed: int = 0,
) -> Path:
    """AIPerf's profile export of one point."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_dir = workdir / "aiperf"
    run_tool(
        aiperf_command(bin_dir, base_url, card, concurrency, num_prompts, isl, osl, out_dir, seed),
        workdir / "aiperf.log",
    )
    return out_dir / "profile_export_aiperf.json"


def run_guidellm(
    bin_dir: Path,
    base_url: str,
    card,
    concurrency: int,
    num_prompts: int,
    isl: int,
    osl: int,
    workdir: Path,
    seed: int = 0,
) -> Path:
    """GuideLLM's report of one point."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_file = workdir / "guidellm" / "benchmarks.json"
    run_tool(
        guidellm_command(bin_dir, base_url, card, concurrency, num_prompts, isl, osl, out_file, seed),
        workdir / "guidellm.log",
    )
    return out_file


def server_counters(base_url: str) -> dict[str, float]:
    """Sums and counts of the server's TTFT and inter-token latency histograms, all engines together."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode(errors="replace")
    ours = {f"vllm:{name}_seconds_{stat}": f"{name}_{stat}" for name in SERVER_MEANS for stat in ("sum", "count")}
    return {ours[name]: value for name, value in summed(text, set(ours)).items()}


def _server_means(before: dict, after: dict) -> dict:
    def mean_ms(name):
        count = after.get(f"{name}_count", 0) - before.get(f"{name}_count", 0)
        return 1000 * (after.get(f"{name}_sum", 0) - before.get(f"{name}_sum", 0)) / count if count else math.nan

    return {"server_ttft_ms": mean_ms("time_to_first_token"), "server_itl_ms": mean_ms("inter_token_latency")}


def run_side(side: str, args, server, bins: dict, workdir: Path, seed: int) -> dict:
    """One side's point: its own figures, the server's view of its requests, and the client's CPU seconds."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    load = (server.card, args.concurrency, args.num_prompts, args.isl, args.osl, workdir, seed)
    before, cpu = server_counters(server.base_url), _children_cpu_s()
    if side == "ours":
        options = [
            "--base-url",
            server.base_url,
            "--model",
            args.model,
            "--isl",
            str(args.isl),
            "--osl",
            str(args.osl),
            "--num-prompts",
            str(args.num_prompts),
            "--concurrency",
            str(args.concurrency),
            "--seed",
            str(seed),
        ]
        result = run_side_process("bench.overhead.parity", "ours", options, workdir)
    else:
        run, read = (run_aiperf, aiperf_figures) if side == "aiperf" else (run_guidellm, guidellm_figures)
        path = run(bins[side], server.base_url, *load)
        result = read(json.loads(path.read_text())) | {"file": path}
    in_flight = result["completed"] * result["e2e_mean_ms"] / 1000 / result["elapsed_s"]  # Little's law
    return (
        result
        | _server_means(before, server_counters(server.base_url))
        | {"cpu_s": _children_cpu_s() - cpu, "in_flight": in_flight}
    )


def aiperf_figures(data: dict) -> dict:
    """What the parity compares, from AIPerf's profile export (as tokencost.imports.aiperf reads it)."""
    duration = data["total_osl"]["avg"] / data["output_token_throughput"]["avg"]  # AIPerf's throughput window
    return {
        "ttft_ms": data["time_to_first_token"]["p50"],
        "ttft_mean_ms": data["time_to_first_token"]["avg"],
        "tpot_ms": data["inter_token_latency"]["p50"],
        "tpot_mean_ms": data["inter_token_latency"]["avg"],
        "e2e_mean_ms": data["request_latency"]["avg"],
        "output_tok_s": data["output_token_throughput"]["avg"],
        "completed": int(data["request_count"]["avg"]),
        "output_tokens": int(data["total_osl"]["avg"]),
        "elapsed_s": duration,
    }


def guidellm_figures(data: dict) -> dict:
    """What the parity compares, from GuideLLM's report of one benchmark (as tokencost.imports.guidellm reads it)."""
    (benchmark,) = data["benchmarks"]
    metrics = {
        name: m["successful"]
        for name, m in benchmark["metrics"].items()
        if isinstance(m, dict) and isinstance(m.get("successful"), dict)
    }
    return {
        "ttft_ms": metrics["time_to_first_token_ms"]["median"],
        "ttft_mean_ms": metrics["time_to_first_token_ms"]["mean"],
        "tpot_ms": metrics["inter_token_latency_ms"]["median"],
        "tpot_mean_ms": metrics["inter_token_latency_ms"]["mean"],
        "e2e_mean_ms": metrics["request_latency"]["mean"] * 1000,  # seconds in the report
        "output_tok_s": metrics["output_tokens_per_second"]["mean"],
        "completed": benchmark["metrics"]["request_totals"]["successful"],
        "output_tokens": int(metrics["output_token_count"]["total_sum"]),
        "elapsed_s": benchmark["duration"],
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children and their own waited children
    return usage.ru_utime + usage.ru_stime


def explain(side: str, metric: str, peer: dict, ours: dict) -> str:
    """Why peer / ours is outside the target, from the server's own means over each side's requests."""
    ratio = peer[metric] / ours[metric]
    if abs(ratio - 1) <= TARGET:
        return ""
    cpu = f"client CPU {peer['cpu_s']:.1f} s vs ours {ours['cpu_s']:.1f} s, start-up included"
    if metric == "output_tok_s":
        return (
            f"{peer['in_flight']:.2f} requests in flight on average vs ours {ours['in_flight']:.2f}, and the "
            f"server's inter-token latency x{peer['server_itl_ms'] / ours['server_itl_ms']:.2f} ({cpu})"
        )
    if metric == "ttft_ms":
        outside = [r["ttft_mean_ms"] - r["server_ttft_ms"] for r in (peer, ours)]
        return (
            f"the server's own mean TTFT x{peer['server_ttft_ms'] / ours['server_ttft_ms']:.2f}; time outside "
            f"the engine (HTTP, vLLM's front end, the client reading) {outside[0]:+.0f} ms vs ours "
            f"{outside[1]:+.0f} ms on average ({cpu}); {DEFINITIONS[side, metric]}"
        )
    moved = peer["server_itl_ms"] / ours["server_itl_ms"]
    read = [r["tpot_mean_ms"] / r["server_itl_ms"] for r in (peer, ours)]  # mean TPOT against the server's ITL
    text = (
        f"the server's own inter-token latency x{moved:.2f}; mean TPOT / the server's: {read[0]:.2f}, "
        f"ours {read[1]:.2f}"
    )
    late = [r["ttft_mean_ms"] - r["server_ttft_ms"] for r in (peer, ours)]
    bunched = (
        f"first tokens reached the client late and the rest bunched, as when vLLM's front end or the client "
        f"falls behind a stream (time outside the engine before the first token {late[0]:+.0f} ms vs ours "
        f"{late[1]:+.0f} ms; {cpu})"
    )
    if abs(read[0] / read[1] - 1) <= TARGET and abs(ratio / moved - 1) <= TARGET:
        return f"{text}: the load differed ({cpu}), not the measuring"
    if abs(read[0] / read[1] - 1) <= TARGET:
        return f"{text}: the means agree, the medians do not: {bunched}, so some requests' TPOT reads near 0"
    strays = side if abs(read[0] - 1) > abs(read[1] - 1) else "ours"
    definition = f"; {DEFINITIONS[side, metric]}" if (side, metric) in DEFINITIONS else ""
    return f"{text}: {strays} strays further from the server; {bunched}, which shortens TPOT{definition}"


def describe(side: str, r: dict) -> str:
    return (
        f"{side:<8} TTFT {r['ttft_ms']:.1f} ms (mean {r['ttft_mean_ms']:.1f}; server {r['server_ttft_ms']:.1f})  "
        f"TPOT {r['tpot_ms']:.2f} ms (mean {r['tpot_mean_ms']:.2f}; server {r['server_itl_ms']:.2f})  "
        f"{r['output_tok_s']:,.1f} tok/s  {r['in_flight']:.2f} in flight  CPU {r['cpu_s']:.1f} s"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if answer_side(args, run_ours, None):
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM ends the server and tools as Ctrl-C does

    from bench.environment import cpu_environment_defaults
    from bench.errors import UserError
    from bench.inputs.cards import load_card
    from bench.inputs.suite import EngineSettings
    from bench.overhead.peer_tools import ensure_tool
    from bench.serve.server import VllmServer

    try:
        bins = {name: ensure_tool(name) for name in ("aiperf", "guidellm")}
        cpu_environment_defaults()
        card = load_card(args.model)
        if not card.has_tokenizer:
            raise UserError(
                "--model",
                f"{card.name} has no tokenizer, and AIPerf and GuideLLM send text",
                "give a card with a tokenizer, e.g. tiny-dense",
            )
        print(
            f"model {args.model}, ISL {args.isl}, OSL {args.osl}, {args.num_prompts} requests a side, closed loop "
            f"at concurrency {args.concurrency}, {args.rounds} interleaved rounds, one vLLM server",
            flush=True,
        )
        with (
            tempfile.TemporaryDirectory() as tmp,
            VllmServer(
                card,
                EngineSettings(),
                Path(tmp) / "server.log",
                max_num_seqs=args.concurrency,
                extra_args=("--no-enable-prefix-caching",),
            ) as server,
        ):
            for name, command in (("aiperf", aiperf_command), ("guidellm", guidellm_command)):
                line = shlex.join(
                    command(
                        bins[name],
                        server.base_url,
                        card,
                        args.concurrency,
                        args.num_prompts,
                        args.isl,
                        args.osl,
                        Path("OUT"),
                    )
                )
                print(
                    textwrap.fill(
                        f"{name}: {line}", 120, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
                    )
                )
            warm = argparse.Namespace(**vars(args) | {"num_prompts": 2 * args.concurrency})
            run_side("ours", warm, server, bins, Path(tmp) / "warm-up", seed=1000)  # compiles and warms the server
            rounds = []
            for n in range(1, args.rounds + 1):
                results = {
                    side: run_side(side, args, server, bins, Path(tmp) / side, seed=n)
                    for side in ("ours", "aiperf", "guidellm")
                }
                rounds.append(results)
                _print_round(n, results)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for side in ("aiperf", "guidellm"):
                        shutil.copy(results[side]["file"], args.keep / results[side]["file"].name)
        _print_medians(rounds)
    except UserError as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parity: interrupted", file=sys.stderr)
        return 130
    return 0


def _print_round(n: int, results: dict) -> None:
    print(f"round {n}:")
    for side, r in results.items():
        print("  " + describe(side, r))
    _print_ratios(results, "  ")


def _print_ratios(results: dict, indent: str) -> None:
    ours = results["ours"]
    for side in ("aiperf", "guidellm"):
        parts = []
        for metric, label in METRICS.items():
            why = explain(side, metric, results[side], ours)
            parts.append(f"{label} {results[side][metric] / ours[metric]:.3f}" + (f" [{why}]" if why else ""))
        print(textwrap.fill(f"{indent}{side} / ours: " + "; ".join(parts), 120, subsequent_indent=indent + "    "))


def _print_medians(rounds: list[dict]) -> None:
    """Each side's figures as medians over the rounds, and their ratios."""
    medians = {
        side: {key: statistics.median(r[side][key] for r in rounds) for key in rounds[0][side] if key != "file"}
        for side in rounds[0]
    }
    print(f"medians over {len(rounds)} rounds (ratios of medians, peer / ours; target within {TARGET:.0%}):")
    for side, r in medians.items():
        print("  " + describe(side, r))
    _print_ratios(medians, "  ")


if __name__ == "__main__":
    sys.exit(main())
