"""Client overhead benchmark: our streaming client vs vLLM's own `vllm bench serve`, same server, same load.

One vLLM server on loopback serves both sides. Each side runs in a fresh
subprocess, in interleaved pairs (ours, theirs, ...) because shared machines
drift: closed loop at `--concurrency`, `--num-prompts` random prompts of
exactly ISL tokens, exactly OSL output tokens (ignore_eos). Prints each pair's
ratio of output tokens/s (ours / theirs; >= 0.95 means our client costs less
than 5 % of what it measures) and our client's CPU time per request.

    python -m bench.overhead.serve [--model tiny-dense] [--pairs 3] [--keep-result DIR]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.overhead.common import answer_side, run_side_process


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-dense")
    p.add_argument("--isl", type=int, default=128)
    p.add_argument("--osl", type=int, default=128)
    p.add_argument("--num-prompts", type=int, default=128)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--keep-result", type=Path, help="keep the last `vllm bench serve --save-result` JSON here")
    p.add_argument("--side", choices=["ours", "vllm"], help=argparse.SUPPRESS)  # one side, in a subprocess
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_ours(args) -> dict:
    from bench.inputs.cards import load_card
    from bench.inputs.workload import Workload
    from bench.serve.client import CompletionsClient, closed_loop
    from bench.serve.metrics import Slo, summarize

    card = load_card(args.model)
    prompts = Workload(isl=args.isl, osl=args.osl).prompts(args.num_prompts, card.vocab_size)

    async def drive():
        async with CompletionsClient(args.base_url, card.name) as client:
            await closed_loop(client, prompts[: args.concurrency], args.osl, args.concurrency)  # warm-up, as theirs
            cpu = time.process_time()
            result = await closed_loop(client, prompts, args.osl, args.concurrency)
            return result, time.process_time() - cpu

    result, cpu_s = asyncio.run(drive())
    metrics = summarize(result.requests, Slo())
    return {
        "output_tokens": metrics.output_tokens,
        "elapsed_s": metrics.duration_s,
        "completed": metrics.completed,
        "cpu_s_per_request": cpu_s / len(result.requests),
    }


def run_vllm(args) -> dict:
    from vllm.benchmarks.serve import add_cli_args, main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    from bench.inputs.cards import load_card

    card = load_card(args.model)
    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    result_dir = args.result.parent
    theirs = parser.parse_args(
        [
            "--backend",
            "vllm",
            "--base-url",
            args.base_url,
            "--model",
            card.name,
            "--tokenizer",
            str(card.path),
            "--dataset-name",
            "random",
            "--random-input-len",
            str(args.isl),
            "--random-output-len",
            str(args.osl),
            "--random-range-ratio",
            "0",
            "--num-prompts",
            str(args.num_prompts),
            "--max-concurrency",
            str(args.concurrency),
            "--request-rate",
            "inf",
            "--ignore-eos",
            "--seed",
            "0",
            "--save-result",
            "--result-dir",
            str(result_dir),
            "--result-filename",
            "vllm-bench-serve.json",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            "50,90,99",
        ]
    )
    result = main(theirs)
    return {
        "output_tokens": result["total_output_tokens"],
        "elapsed_s": result["duration"],
        "completed": result["completed"],
    }


def run_side(side: str, args, base_url: str, keep: Path | None) -> dict:
    options = [
        "--base-url",
        base_url,
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
    ]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_side_process("bench.overhead.serve", side, options, Path(tmp))
        saved = Path(tmp) / "vllm-bench-serve.json"
        if keep and saved.exists():
            keep.mkdir(parents=True, exist_ok=True)
            (keep / saved.name).write_text(saved.read_text())
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    if answer_side(args, run_ours, run_vllm):
        return 0

    from bench.environment import cpu_environment_defaults
    from bench.inputs.cards import load_card
    from bench.inputs.suite import EngineSettings
    from bench.serve.server import VllmServer

    cpu_environment_defaults()
    print(
        f"model {args.model}, ISL {args.isl}, OSL {args.osl}, {args.num_prompts} prompts, closed loop at "
        f"concurrency {args.concurrency}, {args.pairs} interleaved pairs, one vLLM server"
    )
    ratios, cpu = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        VllmServer(
            load_card(args.model), EngineSettings(), Path(tmp) / "server.log", max_num_seqs=args.concurrency
        ) as server,
    ):
        for pair in range(1, args.pairs + 1):
            ours = run_side("ours", args, server.base_url, None)
            theirs = run_side("vllm", args, server.base_url, args.keep_result)
            ratio = ours["output_tok_s"] / theirs["output_tok_s"]
            ratios.append(ratio)
            cpu.append(ours["cpu_s_per_request"])
            print(
                f"pair {pair}: ours {ours['output_tok_s']:,.1f} output tok/s ({ours['completed']} requests, "
                f"{ours['cpu_s_per_request'] * 1000:.2f} ms client CPU per request), vllm bench serve "
                f"{theirs['output_tok_s']:,.1f} ({theirs['completed']} requests), ratio {ratio:.3f}"
            )
    print(
        f"median ratio (ours / vllm bench serve): {statistics.median(ratios):.3f}; "
        f"median client CPU per request: {statistics.median(cpu) * 1000:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
