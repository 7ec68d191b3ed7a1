"""The offline sweep's bookkeeping with a stand-in engine: records, failures, skips and progress."""

import logging
from functools import partial

from bench import environment, offline
from bench.inputs.suite import Suite, with_overrides
from bench.run import run as run_module
from bench.run.progress import Progress
from bench.run.records import read_records
from tests.support.fake_engine import FakeEngine, measured_record
from tests.unit.bench.run.test_progress import FakeClock


def test_a_sweep_records_and_reports_every_point_measured_failed_or_skipped(tmp_path, monkeypatch, capsys, caplog):
    def measure(self, engine, card, key, batch_size):
        if batch_size == 4:
            raise RuntimeError("CUDA out of memory")  # the larger batches of this model are then skipped
        return measured_record(self.run, engine, card, key)

    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.05, "gpu": 0.05})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", lambda *args: FakeEngine())
    monkeypatch.setattr(offline.PointMeasurement, "measure", measure)
    suite = with_overrides(Suite(), models=["tiny-dense"], batch_sizes=[1, 4, 16], engines=["vllm"], isl=16, osl=8)
    caplog.set_level(logging.INFO)
    result = offline.run_sweep(suite, tmp_path / "run")
    logged = caplog.messages

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.split(",")[0] for line in lines] == [
        "[1/3] tiny-dense/vllm/batch1/isl16/osl8 ok",
        "[2/3] tiny-dense/vllm/batch4/isl16/osl8 failed",
        "[3/3] tiny-dense/vllm/batch16/isl16/osl8 skipped",
    ]
    assert lines[-1].endswith("ETA 0s")
    assert any("batch 4: failed (out-of-memory)" in message for message in logged)  # the sweep's own log goes on
    records = read_records(tmp_path / "run")
    assert [(r.batch_size, r.status, r.failure) for r in records] == [
        (1, "ok", None),
        (4, "failed", "out-of-memory"),
        (16, "skipped", "out-of-memory"),
    ]
    assert records[2].error == "skipped: vllm batch 4 ran out of memory" and records[2].error_class == "Skipped"
    assert [f.point for f in result.failures] == [r.point for r in records[1:]]


def test_the_sweeps_eta_counts_the_engines_it_has_still_to_start(tmp_path, monkeypatch, capsys):
    # Simulated time: each engine takes 100 s to start and each point 10 s, so the ETA after the first model's
    # first point is 5 points x 10 s + 1 engine x 100 s.
    clock = FakeClock()

    def start_engine(*args):
        clock.now += 100
        return FakeEngine()

    def measure(self, engine, card, key, batch_size):
        clock.now += 10
        return measured_record(self.run, engine, card, key)

    monkeypatch.setattr(run_module, "Progress", partial(Progress, clock=clock))
    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.0, "gpu": 0.0})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", start_engine)
    monkeypatch.setattr(offline.PointMeasurement, "measure", measure)
    suite = with_overrides(
        Suite(), models=["tiny-dense", "tiny-moe"], batch_sizes=[1, 2, 4], engines=["vllm"], isl=16, osl=8
    )
    offline.run_sweep(suite, tmp_path / "run")
    etas = [line.rsplit("ETA ", 1)[1] for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert etas == ["2m30s", "2m20s", "2m10s", "20s", "10s", "0s"]


def test_each_precision_arm_runs_on_an_engine_of_its_own_and_is_recorded(tmp_path, monkeypatch):
    from bench.inputs.precision import Precision

    started = []

    def start_engine(factory, card, max_batch_size, settings):
        started.append((card.name, settings.precision.name))
        return FakeEngine()

    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.05, "gpu": 0.05})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", start_engine)
    monkeypatch.setattr(
        offline.PointMeasurement,
        "measure",
        lambda self, engine, card, key, b: measured_record(self.run, engine, card, key),
    )
    suite = with_overrides(Suite(), models=["tiny-dense"], batch_sizes=[1, 4], engines=["vllm"], isl=16, osl=8)
    suite = suite.model_copy(update={"precisions": (Precision(), Precision(weights="fp8", kv_cache="fp8"))})
    offline.run_sweep(suite, tmp_path / "run")
    assert started == [("tiny-dense", "bf16"), ("tiny-dense", "fp8-kv-fp8")]
    records = read_records(tmp_path / "run")
    assert [(r.point, r.precision.weights, r.precision.kv_cache) for r in records] == [
        ("tiny-dense/vllm/batch1/isl16/osl8", "bf16", "bf16"),
        ("tiny-dense/vllm/batch4/isl16/osl8", "bf16", "bf16"),
        ("tiny-dense/vllm-fp8-kv-fp8/batch1/isl16/osl8", "fp8", "fp8"),
        ("tiny-dense/vllm-fp8-kv-fp8/batch4/isl16/osl8", "fp8", "fp8"),
    ]
