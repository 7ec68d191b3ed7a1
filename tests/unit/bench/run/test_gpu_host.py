"""A whole offline sweep on a simulated GPU host, as a real 8-GPU node would look to it.

NVML is simulated (exact joules from a fake clock); the engine is a stand-in
that advances the same clock, so point lengths, GPU sets and energies are exact.
Everything else is the real sweep: GPU resolution, time-sized points, fit
checks, loaded idle, validity checks, records.
"""

import json
import os
from itertools import islice

import pytest

from bench import environment, offline
from bench.engines.base import GenerationResult
from bench.inputs.suite import Suite
from bench.run import run as run_module
from bench.run.records import read_records
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu

ROUND_S = 2.0  # the stand-in engine's time for one round of the batch


class ClockedEngine:
    """Runs its prompts in rounds of the batch, each taking ROUND_S on the simulated clock."""

    name, mode = "vllm", "offline"
    started = 0

    def __init__(self, clock, kv_blocks: tuple[int, int] | None = None):
        self.clock, self.kv_cache_blocks = clock, kv_blocks
        ClockedEngine.started += 1

    def describe(self) -> dict:
        return {"name": self.name, "mode": self.mode, "version": "stand-in"}

    def generate(self, prompts, osl, batch_size, window=None, timeout_s=None, salt=None) -> GenerationResult:
        supply, requests, input_tokens, start = iter(prompts), 0, 0, self.clock.now
        batch = list(islice(supply, batch_size))
        if window:
            window.begin()
        while batch:
            self.clock.sleep(ROUND_S)
            requests += len(batch)
            input_tokens += sum(len(p) for p in batch)
            batch = list(islice(supply, batch_size))
        if window:
            window.end()
        duration = self.clock.now - start
        tokens = requests * osl
        return GenerationResult(requests, input_tokens, tokens, duration, tokens, duration)

    def close(self):
        pass


@pytest.fixture
def host(monkeypatch):
    """An 8-GPU H100 node: GPU i draws 100 + 10 i W, so each GPU set has its own exact energy."""
    sim = simulate(monkeypatch, *(SimulatedGpu(i, power_w=100.0 + 10 * i) for i in range(8)))
    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"gpu": 5.0, "cpu": 0.0})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.setenv("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ClockedEngine.started = 0
    return sim


def _sweep(sim, tmp_path, monkeypatch, kv_blocks=None, **suite):
    monkeypatch.setattr(offline, "_start_engine", lambda *args: ClockedEngine(sim.clock, kv_blocks))
    settings = (
        dict(
            models=["tiny-dense"],
            engines=["vllm"],
            batch_sizes=[8],
            min_window_s=10.0,
            prefill_probe=False,
            workload={"isl": 16, "osl": 4, "requests_per_batch": 1},
        )
        | suite
    )
    offline.run_sweep(Suite(**settings), tmp_path / "run")
    return read_records(tmp_path / "run"), json.loads((tmp_path / "run" / "run.json").read_text())


def test_tp1_on_an_8_gpu_node_meters_and_prices_one_gpu_and_lists_seven_idle(host, tmp_path, monkeypatch):
    (record,), run = _sweep(host, tmp_path, monkeypatch)
    assert record.hardware.accelerator_count == 1
    assert [g["uuid"] for g in record.hardware.gpus] == [host.gpus[0].uuid]
    assert [g["uuid"] for g in run["hardware"]["idle_gpus"]] == [g.uuid for g in host.gpus[1:]]
    assert run["meter"]["gpus"] == [host.gpus[0].uuid]
    # Time-sized: one round is 2 s and the minimum one round, so rounds go on until 10 s have passed.
    assert record.num_requests == 5 * 8 and record.duration_s == pytest.approx(10.0)
    assert record.energy.energy_j == pytest.approx(100.0 * 10.0)  # GPU 0 alone, not 8 GPUs' 1080 W
    assert run["idle_power_w"] == pytest.approx(100.0) and record.energy.loaded_idle_power_w == pytest.approx(100.0)
    assert record.validity.checks["window_length"].ok


@pytest.mark.parametrize(
    "visible, tp, engine, watts",
    [
        ("3,1", 2, [3, 1], 130.0 + 110.0),  # permuted indices: CUDA device 0 is GPU 3
        ("5", 1, [5], 150.0),  # an index names a physical GPU, not torch's renumbered device 0
    ],
)
def test_cuda_visible_devices_picks_the_gpus_metered(host, tmp_path, monkeypatch, visible, tp, engine, watts):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    (record,), _ = _sweep(host, tmp_path, monkeypatch, engine={"tensor_parallel_size": tp})
    assert [g["uuid"] for g in record.hardware.gpus] == [host.gpus[i].uuid for i in engine]
    assert record.energy.per_device_j == [pytest.approx((100.0 + 10 * i) * 10.0) for i in engine]
    assert record.energy.energy_j == pytest.approx(watts * 10.0)


def test_a_mask_hiding_every_gpu_stops_the_run_before_it_starts(host, tmp_path, monkeypatch):
    from bench.errors import UserError

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "8")
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: '8' leaves none of this machine's 8 GPUs visible"):
        _sweep(host, tmp_path, monkeypatch)
    assert ClockedEngine.started == 0 and not (tmp_path / "run" / "run.json").exists()


def test_batches_beyond_the_started_engines_kv_cache_are_skipped_not_preempted(host, tmp_path, monkeypatch):
    # 41 blocks of 16 tokens, one of them vLLM's null block; a sequence of 16 + 4 tokens takes 2 blocks, so 20
    # sequences fit.
    records, _ = _sweep(host, tmp_path, monkeypatch, kv_blocks=(41, 16), batch_sizes=[8, 32])
    records = sorted(records, key=lambda r: r.batch_size)
    assert [(r.batch_size, r.status) for r in records] == [(8, "ok"), (32, "skipped")]
    assert records[1].failure == "does-not-fit"
    assert records[1].error == (
        "32 sequences in flight would preempt: vLLM's KV cache holds 20 sequences of 20 tokens (41 blocks of 16 tokens)"
    )


def test_a_model_that_cannot_fit_is_skipped_before_its_engine_starts(monkeypatch, tmp_path):
    sim = simulate(monkeypatch, SimulatedGpu(0, memory_mib=2048))  # 2 GiB: less than the reserve alone
    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"gpu": 1.0, "cpu": 0.0})
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.setenv("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    ClockedEngine.started = 0
    records, _ = _sweep(sim, tmp_path, monkeypatch, engine={"gpu_memory_utilization": 0.9})
    assert ClockedEngine.started == 0
    assert records[0].status == "skipped" and records[0].failure == "does-not-fit"
    assert records[0].error.startswith(
        "estimated before starting: tiny-dense's weights (0.0 GiB a GPU) and a "
        "2.5 GiB reserve exceed the 1.8 GiB vLLM may use"
    )


def test_gpu_runs_spawn_vllm_workers_and_number_gpus_by_bus(monkeypatch):
    env = {"PATH": "/usr/bin"}
    monkeypatch.setattr(os, "environ", env)
    environment.gpu_environment_defaults()
    assert env["VLLM_WORKER_MULTIPROC_METHOD"] == "spawn" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    env["VLLM_WORKER_MULTIPROC_METHOD"] = "fork"
    environment.gpu_environment_defaults()
    assert env["VLLM_WORKER_MULTIPROC_METHOD"] == "fork"  # the user's own choice stands
