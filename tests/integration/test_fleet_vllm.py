"""A fleet sweep on a real local Ray cluster: two nodes of two accelerator types (simulated GPUs through
NVML, vLLM's CPU engine), one of them killed mid-run, and `--resume` measuring what it lost.

vLLM's Ray backend (an engine spanning nodes) has no CPU build, so each group here runs vLLM's ordinary
engine on its one node, as a fleet of single-node engines does on GPUs.
"""

import json
import time

import pytest

from bench.run.records import RECORDS_FILE, read_records
from tests.support.ray_cluster import LocalRayCluster
from tests.support.run_cli import start_tokencost, tokencost

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

H100 = [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "power_w": 300.0}]
A100 = [{"index": 0, "name": "NVIDIA A100-SXM4-80GB", "power_w": 250.0, "memory_mib": 81920}]
SUITE = """
models = ["tiny-dense"]
engines = ["vllm"]
batch_sizes = [1, 4]
min_window_s = 4.0  # the A100 node is killed inside its second point, which lasts at least this long
prefill_probe = false
[engine]
gpu_memory_utilization = 0.05
enforce_eager = true
[fleet]
accelerators = ["H100", "A100"]
"""


def records_of(out, prefix: str) -> list[dict]:
    path = out / RECORDS_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r["point"].startswith(prefix)]


def wait_for(condition, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"tokencost ended before {what}: {process.communicate()}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_fleet_sweep_loses_a_node_and_resume_measures_its_points(tmp_path):
    suite = tmp_path / "fleet.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    with LocalRayCluster(tmp_path) as cluster:
        head = cluster.start_head(num_cpus=2, num_gpus=1, resources={"accelerator_type:H100": 1}, sim_gpus=H100)
        worker = cluster.add_worker(num_cpus=2, num_gpus=1, resources={"accelerator_type:A100": 1}, sim_gpus=A100)
        run = start_tokencost("run", "--suite", suite, "--ray-address", cluster.address, "--out", out)
        try:
            wait_for(lambda: records_of(out, "A100/"), 900, "the A100 node's first record", run)
            cluster.kill(worker)
            stdout, stderr = run.communicate(timeout=900)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 1, stderr  # points failed
        h100, a100 = records_of(out, "H100/"), records_of(out, "A100/")
        assert [r["status"] for r in h100] == ["ok", "ok"]
        assert a100[0]["status"] == "ok" and a100[-1]["status"] == "failed"
        assert a100[-1]["failure"] in ("node-lost", "worker-died")
        # Each node measured with its own GPUs: the simulated NVML of that node, at its power.
        for records, name, watts in ((h100, "H100", 300.0), (a100[:1], "A100", 250.0)):
            for r in records:
                assert name in r["hardware"]["accelerator"] and r["hardware"]["ray_node"]
                assert r["energy"]["method"] == "nvml-counter"
                # Exact but for the microseconds between a snapshot's clock and its counter reads (a real clock).
                assert r["energy"]["avg_power_w"] == pytest.approx(watts, rel=1e-3)
        assert {r["hardware"]["ray_node"] for r in h100} == {head.node_id}
        assert a100[0]["hardware"]["ray_node"] == worker.node_id
        assert "did not complete" in stderr and "A100/tiny-dense/vllm/batch4" in stderr

        # A new A100 node joins; the resumed run measures only what was lost.
        cluster.add_worker(num_cpus=2, num_gpus=1, resources={"accelerator_type:A100": 1}, sim_gpus=A100)
        resumed = tokencost("run", "--resume", out, "--ray-address", cluster.address, timeout=900)
        assert resumed.returncode == 0, resumed.stderr
    latest = {r.point: r for r in read_records(out)}
    assert sorted(latest) == sorted(
        f"{a}/tiny-dense/vllm/batch{b}/isl128/osl128" for a in ("H100", "A100") for b in (1, 4)
    )
    assert all(r.ok for r in latest.values())
    assert len(records_of(out, "H100/")) == 2  # nothing measured twice
    report = (out / "report.md").read_text()
    assert "A100" in report and "H100" in report
