"""Engines over two nodes (vLLM's Ray backend, tensor parallel 4 over 2 x 2 GPUs), as far as this CPU
machine can take it: the GPUs are reserved across both nodes and metered on each, every record describes both
nodes, and vLLM's CPU build, which has no Ray backend, fails the engine's start with its own reason."""

import json
import re

import pytest

from tests.support.ray_cluster import LocalRayCluster
from tests.support.run_cli import tokencost

pytest.importorskip("ray")
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(600)]

H100 = "NVIDIA H100 80GB HBM3"
SUITE = """
models = ["tiny-dense", "tiny-moe"]
engines = ["vllm"]
batch_sizes = [1]
min_window_s = 1.0
[engine]
tensor_parallel_size = 4
executor = "ray"
"""


def test_an_engine_spanning_two_nodes_is_metered_on_both(tmp_path):
    suite = tmp_path / "spanning.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    with LocalRayCluster(tmp_path, log_to_driver=True) as cluster:
        head = cluster.start_head(
            num_cpus=2,
            num_gpus=2,
            resources={"accelerator_type:H100": 1},
            sim_gpus=[{"index": 0, "name": H100, "power_w": 300.0}, {"index": 1, "name": H100, "power_w": 200.0}],
        )
        # Other indices: every simulated GPU its own UUID, as real GPUs have.
        worker = cluster.add_worker(
            num_cpus=2,
            num_gpus=2,
            resources={"accelerator_type:H100": 1},
            sim_gpus=[{"index": 2, "name": H100, "power_w": 250.0}, {"index": 3, "name": H100, "power_w": 150.0}],
        )
        result = tokencost("run", "--suite", suite, "--ray-address", cluster.address, "--out", out, timeout=500)
    assert "4 GPUs on 2 node(s)" in result.stdout
    log = result.stdout + result.stderr  # Ray forwards the task's output to the driver's stderr
    # The idle baseline, read on both nodes at the same edges: 300 + 200 + 250 + 150 W.
    # (A real clock: exact but for the microseconds between a snapshot's clock and its counter reads.)
    baseline = re.search(r"idle baseline: ([\d.]+) W \(nvml-counter, gpu\)", log)
    assert baseline and float(baseline[1]) == pytest.approx(900.0, rel=1e-3)
    assert "current platform cpu does not support ray" in log  # vLLM's CPU build, in its own words
    # Two such engines hold the same GPUs one after the other: the second reserved once the first let go.
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert sorted(r["model"]["name"] for r in records) == ["tiny-dense", "tiny-moe"]
    for record in records:
        assert record["status"] == "failed" and record["failure"] == "engine-start"
        hardware = record["hardware"]
        assert hardware["accelerator_count"] == 4
        assert sorted((n["node_id"], n["gpus"]) for n in hardware["nodes"]) == sorted(
            [(head.node_id, 2), (worker.node_id, 2)]
        )
        assert sorted(g["node_id"] for g in hardware["gpus"]) == sorted([head.node_id] * 2 + [worker.node_id] * 2)
