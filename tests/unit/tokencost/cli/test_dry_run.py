"""`tokencost run --dry-run`: the GPUs and points a run would use, and what fits, with nothing started."""

import pytest

from tests.conftest import simulate
from tests.support import REPO
from tests.support.cli import tokencost
from tests.support.nvml_sim import SimulatedGpu

H100_GIB = 81559 / 1024


def test_the_h100_suite_fits_an_h100_point_by_point(tmp_path):
    out = tmp_path / "never-created"
    done = tokencost(
        "run", "--dry-run", "--suite", REPO / "bench/suites/h100.toml", "--gpu-memory-gib", H100_GIB, "--out", out
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "GPUs: 1 assumed, 79.6475 GiB each (--gpu-memory-gib)"
    points = [line for line in lines if line.startswith("  ")]
    assert len(points) == 32 and all(": fits: weights" in line for line in points)  # a BF16 and an FP8 arm
    assert (
        "  qwen3-30b-a3b/vllm/batch64/isl1024/osl512: fits: weights 56.9 GiB + reserve 2.5 GiB, KV room 12.3 GiB "
        "for 87 sequences of 1536 tokens" in lines
    )
    assert "pair: qwen3-30b-a3b (MoE) vs qwen3-8b (dense)" in lines
    assert lines[-1] == "32 of 32 points would run; nothing was started or measured"
    assert not out.exists()


def test_what_cannot_fit_is_named_with_its_reason_and_the_exit_code_says_so():
    done = tokencost(
        "run",
        "--dry-run",
        "--models",
        "mixtral-8x7b,qwen3-30b-a3b",
        "--engines",
        "vllm",
        "--batch-sizes",
        "1,128",
        "--isl",
        "1024",
        "--osl",
        "1024",
        "--gpu-memory-gib",
        H100_GIB,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert (
        "  mixtral-8x7b/vllm/batch1/isl1024/osl1024: SKIP: mixtral-8x7b's weights (87.0 GiB a GPU) and a 2.5 GiB "
        "reserve exceed the 71.7 GiB vLLM may use (gpu_memory_utilization 0.9 of 79.6 GiB)" in lines
    )
    assert (
        "  qwen3-30b-a3b/vllm/batch128/isl1024/osl1024: SKIP: 128 sequences of 2048 tokens need more KV cache "
        "than the 12.3 GiB left a GPU, which holds 65" in lines
    )
    assert (
        "pair: qwen3-30b-a3b (MoE) has no dense model in this suite (qwen3-32b is not in it): "
        "no dense-vs-MoE comparison" in lines
    )
    assert lines[-1] == "1 of 4 points would run; nothing was started or measured"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpu-memory-gib", "80"], "tokencost: error: --gpu-memory-gib: only plans a dry run; add --dry-run"),
        (["--dry-run", "--gpu-memory-gib", "nan"], "tokencost: error: --gpu-memory-gib:"),
        (["--dry-run", "--suite", REPO / "bench/suites"], "tokencost: error: --suite:"),
        (
            ["--dry-run", "--gpu-memory-gib", "1e15"],
            "tokencost: error: --gpu-memory-gib: is 1e+15, more than any one GPU",
        ),
        (["--dry-run", "--min-window-s", "-1"], "tokencost: error: --min-window-s: is -1; give 0 or a positive number"),
    ],
)
def test_bad_dry_run_input_is_one_line_and_exit_2(args, message):
    done = tokencost("run", *args)
    assert done.returncode == 2 and done.stderr.startswith(message) and len(done.stderr.splitlines()) == 1


def test_on_an_8_gpu_node_the_dry_run_names_the_engine_gpu_and_the_idle_ones(monkeypatch, capsys):
    from tokencost.cli.main import main

    sim = simulate(monkeypatch, *(SimulatedGpu(i) for i in range(8)))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,2,3")
    assert main(["run", "--dry-run", "--suite", str(REPO / "bench/suites/h100.toml")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"GPUs: the engine uses 1 (NVIDIA H100 80GB HBM3 {sim.gpus[6].uuid}, 79.6 GiB each); "
        "2 more visible stay idle and are neither metered nor priced"
    )


def test_the_h100_suite_lists_its_bf16_and_fp8_arms_with_their_fit_on_a_catalog_gpu():
    done = tokencost("run", "--dry-run", "--suite", REPO / "bench/suites/h100.toml", "--gpu", "h100-sxm")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "GPUs: 1 x H100 SXM5 80GB assumed (--gpu h100-sxm), 80 GiB each (the catalog's)"
    bf16 = next(line for line in lines if line.startswith("  qwen3-30b-a3b/vllm/batch64/"))
    fp8 = next(line for line in lines if line.startswith("  qwen3-30b-a3b/vllm-fp8-kv-fp8/batch64/"))
    assert "[FP8 weights, FP8 KV cache]" in fp8 and "[" not in bf16
    room = [float(line.split("KV room ")[1].split(" GiB")[0]) for line in (bf16, fp8)]
    assert room[1] > room[0] + 20  # FP8 weights leave ~28 GiB more for a cache whose tokens take half the bytes


def test_a_gpu_that_cannot_run_an_arm_skips_its_points_with_one_line_each(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        # Qwen3-32B's card names no FP4 checkpoint (tests/unit/bench/inputs/test_checkpoints.py: one that does)
        'models = ["qwen3-32b"]\nbatch_sizes = [1]\n'
        'precisions = [{ weights = "bf16" }, { weights = "fp8" }, { weights = "fp4" }]\n'
    )
    on_a100 = tokencost("run", "--dry-run", "--suite", suite, "--gpu", "a100-80gb-sxm")
    assert on_a100.returncode == 1
    lines = on_a100.stdout.splitlines()
    fp8 = next(line for line in lines if "/vllm-fp8/" in line)
    assert "fits" in fp8 and "FP8 weights weight-only on a100-80gb-sxm (read as FP8, multiplied in BF16)" in fp8
    fp4 = next(line for line in lines if "/vllm-fp4/" in line)
    assert "SKIP: A100 80GB SXM4 has no FP4 tensor cores in the catalog (FP4 needs Blackwell or MI355X)" in fp4
    assert lines[-1] == "2 of 3 points would run; nothing was started or measured"
    on_b200 = tokencost("run", "--dry-run", "--suite", suite, "--gpu", "b200")
    fp4 = next(line for line in on_b200.stdout.splitlines() if "/vllm-fp4/" in line)
    assert "SKIP: fp4 weights need a checkpoint quantized to fp4" in fp4  # B200 has FP4; vLLM needs the checkpoint
    measured = tokencost("run", "--suite", suite, "--out", tmp_path / "never")
    assert measured.returncode == 2 and "precisions: fp4 weights need a checkpoint" in measured.stderr
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--gpu", "h100-sxm"), "--gpu: only plans a dry run"),
        (("--dry-run", "--gpu", "tpu-v9"), "--gpu: 'tpu-v9' is not in the hardware catalog"),
        (("--dry-run", "--gpu", ""), "--gpu: '' is empty"),
        (("--dry-run", "--gpu", "/etc"), "--gpu: '/etc' is not in the hardware catalog"),
        (("--dry-run", "--gpu", "cpu-vcpu"), "--gpu: cpu-vcpu is not a GPU"),
    ],
)
def test_a_planned_gpu_is_checked_in_one_line(argv, message):
    done = tokencost("run", "--models", "tiny-dense", *argv)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
