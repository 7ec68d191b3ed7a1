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
    assert len(points) == 16 and all(": fits: weights" in line for line in points)
    assert (
        "  qwen3-30b-a3b/vllm/batch64/isl1024/osl512: fits: weights 56.9 GiB + reserve 2.5 GiB, KV room 12.3 GiB "
        "for 87 sequences of 1536 tokens" in lines
    )
    assert "pair: qwen3-30b-a3b (MoE) vs qwen3-8b (dense)" in lines
    assert lines[-1] == "16 of 16 points would run; nothing was started or measured"
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
