"""SIGTERM to a fleet sweep's driver: every group's task records its point as interrupted and ends, no process
of the run outlives it, and the completed points are kept and priced."""

import json
import signal
import time

import pytest

from bench.run.records import RECORDS_FILE
from tests.support.ray_cluster import LocalRayCluster
from tests.support.run_cli import start_tokencost

pytest.importorskip("ray")
pytestmark = pytest.mark.timeout(600)

SUITE = """
models = ["tiny-dense"]
engines = ["transformers"]
batch_sizes = [1, 4, 16]
min_window_s = 5.0
prefill_probe = false
[fleet]
accelerators = ["H100", "A100"]
"""


def test_sigterm_interrupts_every_group_and_leaves_no_process(tmp_path):
    suite = tmp_path / "fleet.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    records = out / RECORDS_FILE
    with LocalRayCluster(tmp_path) as cluster:
        cluster.start_head(num_cpus=2, resources={"accelerator_type:H100": 1})
        cluster.add_worker(num_cpus=2, resources={"accelerator_type:A100": 1})
        run = start_tokencost("run", "--suite", suite, "--ray-address", cluster.address, "--out", out)
        deadline = time.monotonic() + 300
        while not (records.exists() and records.read_text().count("\n") >= 2) and run.poll() is None:
            assert time.monotonic() < deadline, "no records within 300 s"
            time.sleep(0.2)
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 130, stderr
        assert f"--resume {out} --ray-address {cluster.address}" in stderr
        # The groups' tasks are gone: only Ray's own processes are left on the nodes.
        time.sleep(2)
        tasks = [p for p in cluster.processes() if "tokencost" in " ".join(p.cmdline())]
        assert tasks == []
    statuses = [json.loads(line)["status"] for line in records.read_text().splitlines()]
    assert "interrupted" in statuses and statuses.count("ok") >= 1
    assert (out / "report.md").exists()
