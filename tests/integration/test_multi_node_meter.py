"""A multi-node engine's GPUs reserved, found and metered on a real local Ray cluster of two simulated GPU nodes.

Every GPU's simulated counter is 7e6 mJ + power x CLOCK_MONOTONIC, a clock the two "nodes" (processes on this
machine) share, so each node's joules over its own window are known exactly. The worker's GPUs are numbered
2 and 3 in the simulation so that their UUIDs differ from the head's, as real GPUs' do (NVML still numbers
them 0 and 1 on their node, and Ray gives them GPU ids 0 and 1).
"""

import time

import pytest

from bench.energy.cluster_meter import ClusterMeter, NodeLost
from bench.errors import UserError
from bench.fleet import placement
from tests.support.nvml_sim import SimulatedGpu
from tests.support.ray_cluster import LocalRayCluster

H100 = "NVIDIA H100 80GB HBM3"
TYPE = {"accelerator_type:H100": 1}
HEAD_W, WORKER_W = (300.0, 200.0), (250.0, 150.0)
# The simulated counter counts whole millijoules, and a node reads its counters a few microseconds after it
# stamps its snapshot's time; a preemption between the two (2 vCPUs, several Ray processes) moves that by
# up to a few milliseconds.
COUNTER_REL = 5e-3


def sim_gpus(first: int, watts: tuple) -> list[dict]:
    return [{"index": first + i, "name": H100, "power_w": w} for i, w in enumerate(watts)]


def uuids(first: int, count: int) -> set[str]:
    return {SimulatedGpu(first + i).uuid for i in range(count)}


class BundleActor:
    """Stands in for one of vLLM's workers: an actor holding a bundle's GPU."""

    def seen(self) -> dict:
        return placement._probe()


@pytest.mark.timeout(180)
def test_an_engine_across_two_nodes_is_metered_on_each_and_a_lost_node_is_named(tmp_path):
    pytest.importorskip("ray")
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    with LocalRayCluster(tmp_path) as cluster:
        head = cluster.start_head(num_cpus=2, num_gpus=2, resources=TYPE, sim_gpus=sim_gpus(0, HEAD_W))
        worker = cluster.add_worker(num_cpus=2, num_gpus=2, resources=TYPE, sim_gpus=sim_gpus(2, WORKER_W))
        with cluster.driver() as ray:
            with pytest.raises(UserError, match="engine.tensor_parallel_size: the engine needs 5 GPUs"):
                placement.reserve(ray, 5, {"accelerator_type:H100": 0.001})
            pg = placement.reserve(ray, 4, {"accelerator_type:H100": 0.001}, timeout_s=30)
            assert pg.bundle_specs == [{"GPU": 1, "CPU": 1, "accelerator_type:H100": 0.001}] * 4

            # Every GPU is reserved now: one more cannot be placed, and its group does not linger.
            with pytest.raises(UserError, match="could not be placed .* within 1 s \\(0 of its 4 GPUs free\\)"):
                placement.reserve(ray, 1, timeout_s=1)
            assert sum(t["state"] != "REMOVED" for t in ray.util.placement_group_table().values()) == 1

            shares = placement.layout(ray, pg)
            assert {s.node_id: set(s.gpu_uuids) for s in shares} == {
                head.node_id: uuids(0, 2),
                worker.node_id: uuids(2, 2),
            }
            assert sorted(b for s in shares for b in s.bundles) == [0, 1, 2, 3]
            assert all(len(s.bundles) == len(s.gpu_uuids) == 2 for s in shares)

            # A later task in a bundle, and an actor as vLLM's workers are, see the GPU the first probe saw.
            first = placement.probe_bundles(ray, pg)
            again = placement.probe_bundles(ray, pg)
            actor = (
                ray.remote(BundleActor)
                .options(
                    num_gpus=1,
                    num_cpus=0,
                    scheduling_strategy=(PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=3)),
                )
                .remote()
            )
            in_actor = ray.get(actor.seen.remote(), timeout=60)
            ray.kill(actor)
            assert [(p["node_id"], p["cuda_visible"], p["gpu_uuids"]) for p in first] == [
                (p["node_id"], p["cuda_visible"], p["gpu_uuids"]) for p in again
            ]
            assert (in_actor["node_id"], in_actor["gpu_uuids"]) == (first[3]["node_id"], first[3]["gpu_uuids"])
            assert all(len(p["gpu_uuids"]) == 1 and p["cuda_visible"] == p["gpu_ids"][0] for p in first)

            meters = placement.start_node_meters(ray, shares)
            meter = ClusterMeter(meters, ray, timeout_s=20)
            info = placement.hardware(ray, shares, meters)
            assert (info["accelerator"], info["accelerator_count"]) == (H100, 4)
            assert {(n["node_id"], n["gpus"]) for n in info["nodes"]} == {(head.node_id, 2), (worker.node_id, 2)}
            assert {(g["node_id"], g["uuid"]) for g in info["gpus"]} == {(head.node_id, u) for u in uuids(0, 2)} | {
                (worker.node_id, u) for u in uuids(2, 2)
            }
            assert meter.describe()["meter"] == "ray-nodes" and meter.method == "nvml-counter"

            start = meter.snapshot()
            time.sleep(1.0)
            end = meter.snapshot()
            reading = meter.reading(start, end)
            watts = {head.node_id: sum(HEAD_W), worker.node_id: sum(WORKER_W)}
            for node in reading.per_node:
                assert node["method"] == "nvml-counter" and node["gpus"] == 2
                assert node["energy_j"] == pytest.approx(watts[node["node_id"]] * node["duration_s"], rel=COUNTER_REL)
            assert reading.energy_j == pytest.approx(sum(n["energy_j"] for n in reading.per_node), rel=1e-12)
            assert reading.method == "nvml-counter" and len(reading.per_device_j) == 4
            # Each node's window edges lie within edge_skew_s of the driver's, so its window within twice that.
            assert 0 < reading.edge_skew_s < 0.5
            driver = reading.duration_s
            assert driver == end.t - start.t
            assert all(abs(n["duration_s"] - driver) <= 2 * reading.edge_skew_s for n in reading.per_node)
            assert abs(reading.energy_j - 900.0 * driver) <= 900.0 * 2 * reading.edge_skew_s + COUNTER_REL * 900.0

            killed_in = cluster.kill(worker)
            asked = time.monotonic()
            for call in (lambda: meter.reading(start, end), meter.snapshot):
                with pytest.raises(NodeLost, match=f"Ray node {worker.node_id} .* did not answer"):
                    call()
            assert time.monotonic() - asked < 20, "a lost node must fail the reading, not hang it"
            meter.stop()
            placement.release(ray, pg)
            print(
                f"worker reported dead {killed_in:.1f} s after the kill; readings failed "
                f"{time.monotonic() - asked:.2f} s after; edge skew {reading.edge_skew_s * 1e3:.2f} ms"
            )
