"""Sweeps that survive: real vLLM runs killed, interrupted and failing, through the CLI."""

import json
import os
import shutil
import signal
import time

import pandas as pd
import psutil
import pytest

from bench.inputs.cards import default_models_dir
from bench.run.records import read_records
from tests.support.run_cli import start_tokencost, tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

SECRET = "hf_tokencostTEST0123456789"


def _suite(tmp_path, text: str):
    path = tmp_path / "suite.toml"
    path.write_text('engines = ["vllm"]\n' + text + "\n[engine]\nenforce_eager = true\n")
    return path


def _wait_for_records(run_dir, count, process, timeout=600):
    deadline = time.monotonic() + timeout
    path = run_dir / "records.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        if process.poll() is not None:
            raise AssertionError("the run ended early:\n" + process.stderr_text()[-3000:])
        time.sleep(0.5)
    raise AssertionError(f"no {count} records within {timeout} s")


def _ok_points(run_dir):
    return [r.point for r in read_records(run_dir) if r.ok]


def test_kill_9_then_resume_finishes_exactly_the_missing_points(tmp_path):
    # What is tested is the run directory (records torn or not, run.json, what resume measures), the same whatever
    # the engine: the transformers engine starts in seconds where vLLM's CPU build takes half a minute, twice here.
    # vLLM's engine processes under a signal: test_sigint_stops_cleanly_keeping_completed_points and
    # tests/integration/test_interrupts.py.
    suite = tmp_path / "suite.toml"
    suite.write_text(
        # Points of at least 2 s, six of them: the kill below, once the first record is seen, lands inside a later
        # one even when this test's own poll is late (beside another engine it has been 10 s late).
        'engines = ["transformers"]\nmin_window_s = 2\nmodels = ["tiny-dense"]\nbatch_sizes = [1, 2, 3, 4, 5, 6]\n'
        "[workload]\nisl = 16\nosl = 8\nrequests_per_batch = 2\n"
    )
    run_dir = tmp_path / "run"
    env = os.environ | {"HF_TOKEN": SECRET}
    process = start_tokencost("run", "--suite", suite, "--out", run_dir, env=env)
    _wait_for_records(run_dir, 1, process)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group, vLLM's engine processes too
    process.wait()
    killed_with = set(_ok_points(run_dir))
    assert 1 <= len(killed_with) < 6

    result = tokencost("run", "--resume", run_dir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    points = _ok_points(run_dir)
    assert sorted(points) == sorted(f"tiny-dense/transformers/batch{b}/isl16/osl8" for b in range(1, 7))
    assert len(points) == len(set(points))  # nothing measured twice
    assert len(json.loads((run_dir / "run.json").read_text())["resumed_at"]) == 1
    assert len(pd.read_csv(run_dir / "costs.csv")) == 6
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="ignore"), path


def test_sigint_stops_cleanly_keeping_completed_points(tmp_path):
    suite = _suite(
        tmp_path,
        # Each point holds at least 5 s whatever the machine's speed, so the signal below lands inside one; six of
        # them, because on a loaded CI machine this test's own 1 s sleep has been seen to take 15 s.
        'min_window_s = 5\nmodels = ["tiny-dense"]\nbatch_sizes = [1, 2, 4, 8, 16, 32]\n'
        "[workload]\nisl = 16\nosl = 256\nrequests_per_batch = 4",
    )
    run_dir = tmp_path / "run"
    process = start_tokencost("run", "--suite", suite, "--out", run_dir)
    _wait_for_records(run_dir, 1, process)
    # Into the next point: a signal the instant a record is appended lands between points, where there is
    # no current point to record as interrupted.
    time.sleep(1.0)
    family = psutil.Process(process.pid).children(recursive=True)
    assert family, "vLLM's engine processes should be running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and f"tokencost run --resume {run_dir}" in stderr
    statuses = [r.status for r in read_records(run_dir)]
    assert statuses[0] == "ok" and set(statuses[:-1]) <= {"ok"} and len(statuses) < 6, statuses
    # The point the signal landed in is recorded as interrupted. A signal that lands in the moment between two
    # points (this test cannot time it finer than its own sleeps) ends the run with no point open: every record ok,
    # and the run still says how to resume.
    assert statuses[-1] in ("ok", "interrupted"), statuses
    assert (run_dir / "costs.csv").exists() and (run_dir / "report.md").exists()
    _, alive = psutil.wait_procs(family, timeout=30)
    assert alive == [], f"left running: {[p.pid for p in alive]}"


def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(default_models_dir() / "tiny-dense", models / "tiny-dense")
    shutil.copytree(default_models_dir() / "tiny-dense", models / "tiny-short")
    config = json.loads((models / "tiny-short" / "config.json").read_text())
    config["max_position_embeddings"] = 64
    (models / "tiny-short" / "config.json").write_text(json.dumps(config))
    suite = _suite(
        tmp_path,
        'min_window_s = 0\nmodels = ["tiny-short", "tiny-dense"]\nbatch_sizes = [1, 2]\npoint_timeout_s = 0.2\n'
        "[workload]\nisl = 48\nosl = 2048\nrequests_per_batch = 2",
    )
    run_dir = tmp_path / "run"
    result = tokencost(
        "run", "--suite", suite, "--out", run_dir, env=os.environ | {"TOKENCOST_MODELS_DIR": str(models)}
    )
    assert result.returncode == 1, result.stderr[-3000:]
    records = read_records(run_dir)
    assert [(r.point.split("/")[0], r.status, r.failure) for r in records] == [
        ("tiny-short", "failed", "context-exceeded"),
        ("tiny-short", "failed", "context-exceeded"),
        ("tiny-dense", "failed", "timeout"),
        ("tiny-dense", "failed", "timeout"),
    ]
    assert all(r.error for r in records) and records[2].error_class == "PointTimeout"
    assert "4 point(s) did not complete" in result.stderr
    assert "tiny-dense/vllm/batch2/isl48/osl2048: failed (timeout)" in result.stderr
