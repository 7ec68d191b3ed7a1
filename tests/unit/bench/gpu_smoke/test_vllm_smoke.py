"""The vLLM smoke checks' verdicts, on records of a real offline sweep measured on the NVML simulator."""

import pytest

from bench import offline
from bench.gpu_smoke import smoke as gpu_smoke
from bench.gpu_smoke.smoke import FAIL, PASS, SKIP, Done, judge_vllm
from bench.inputs.suite import Suite
from bench.run.records import read_records
from tests.unit.bench.gpu_smoke.test_gpu_smoke import FakeRunner, by_suite, context, sweep_writing, vllm_records
from tests.unit.bench.run.test_gpu_host import ClockedEngine, host  # noqa: F401 - host: the simulated node


class VllmLikeEngine(ClockedEngine):
    """The stand-in engine, saying what a started vLLM engine says: its KV cache, model runner, cache counters."""

    def __init__(self, clock, effective):
        blocks = (effective.get("num_gpu_blocks"), effective.get("block_size"))
        super().__init__(clock, blocks if all(blocks) else None)
        self.effective, self.queries = effective, 0

    def describe(self):
        return super().describe() | {"effective": self.effective}

    def prefix_cache_counters(self):
        self.queries += 128
        return self.queries, 0


def sweep_records(sim, tmp_path, monkeypatch, effective) -> list[dict]:
    monkeypatch.setattr(offline, "_start_engine", lambda *args: VllmLikeEngine(sim.clock, effective))
    suite = Suite(
        models=["tiny-dense", "tiny-moe"],
        engines=["vllm"],
        batch_sizes=[1, 4],
        min_window_s=4.0,
        prefill_probe=False,
        workload={"isl": 128, "osl": 32, "requests_per_batch": 1},
    )
    offline.run_sweep(suite, tmp_path / "run")
    return [r.to_json() for r in read_records(tmp_path / "run")]


EFFECTIVE = {"num_gpu_blocks": 9001, "block_size": 16, "model_runner": "v2", "async_scheduling": True}


def test_a_sweep_measured_on_the_nvml_counter_with_vllms_settings_passes(host, tmp_path, monkeypatch):  # noqa: F811
    records = sweep_records(host, tmp_path, monkeypatch, EFFECTIVE)
    result = judge_vllm(records, 4, Done(0), "offline")
    assert result.status == PASS, result.detail
    assert result.detail.startswith(
        "4 points ok with nvml-counter energy; model runner v2, KV cache 9001 blocks of 16 tokens: "
        "tiny-dense/vllm/batch1/isl128/osl32 "
    )
    assert [p["prefix_cache_queries"] for p in result.values["points"]] == [128] * 4


def test_a_record_without_the_model_runner_or_kv_cache_fails_naming_what_is_missing(host, tmp_path, monkeypatch):  # noqa: F811
    records = sweep_records(host, tmp_path, monkeypatch, {"block_size": 16})
    result = judge_vllm(records, 4, Done(0), "offline")
    assert result.status == FAIL
    assert result.detail.split("; ")[0] == (
        "tiny-dense/vllm/batch1/isl128/osl32 has no engine.effective.num_gpu_blocks, engine.effective.model_runner"
    )


def test_points_measured_without_the_counter_failed_or_missing_fail():
    records = vllm_records()
    records[0]["energy"]["method"] = "estimated"
    records[1] |= {"status": "failed", "error": "EngineCore died"}
    records[2].pop("prefix_cache")
    result = judge_vllm(records[:3], 4, Done(1, "", "boom\n"), "serve")
    assert (result.name, result.status) == ("vllm-serve", FAIL)
    assert result.detail == (
        "3 of 4 points recorded (exit 1: boom); tiny-dense/vllm/batch1/isl128/osl32 measured by estimated; "
        "tiny-dense/vllm/batch4/isl128/osl32 failed: EngineCore died; "
        "tiny-moe/vllm/batch1/isl128/osl32 has no prefix_cache.queries, prefix_cache.hits"
    )


def test_served_the_suite_runs_with_mode_serve_and_expects_a_point_per_concurrency(tmp_path):
    runner = FakeRunner({"run": by_suite(None, sweep_writing(vllm_records()))})
    result = gpu_smoke.check_vllm(context(runner, tmp_path), 540, "serve")
    assert result.status == PASS, result.detail
    [(argv, env, _)] = runner.calls
    assert argv[5] == gpu_smoke.VLLM_SUITE and argv[-2:] == ["--mode", "serve"]


def test_without_vllm_the_checks_say_skip_and_why(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_smoke, "find_spec", lambda name: None)
    runner = FakeRunner({})
    for check in (c for c in gpu_smoke.CHECKS if c.name.startswith("vllm-")):
        result = gpu_smoke.run_one(check, context(runner, tmp_path), 540)
        assert (result.status, result.detail) == (
            SKIP,
            "vLLM cannot be imported here (install the cuda extra: pip install -e '.[cuda]')",
        )
    assert runner.calls == []


def test_only_runs_the_checks_named(tmp_path, capsys):
    lines = []
    runner = FakeRunner({"run": by_suite(None, sweep_writing(vllm_records()))})
    code = gpu_smoke.main(
        ["--out", str(tmp_path), "--only", "vllm-offline"], runner=runner, echo=lambda t, **k: lines.append(t)
    )
    assert code == 0 and [line.split()[:2] for line in lines[:-1]] == [[PASS, "vllm-offline"]]
    with pytest.raises(SystemExit):
        gpu_smoke.main(["--only", "vllm"], runner=runner)
    assert "--only: vllm is not a check" in capsys.readouterr().err
