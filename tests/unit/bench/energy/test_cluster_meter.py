"""The meter of an engine spanning Ray nodes, over in-process stand-ins for the node meter actors.

Both "nodes" share one simulated NVML and one fake clock; each node meter picks its GPUs by UUID, and a call
to a node advances the clock by that node's reply delay, so round trips and edges are exact.
"""

from types import SimpleNamespace

import pytest

from bench.energy import meters
from bench.energy.cluster_meter import ClusterMeter, NodeLost, NodeMeter
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu


class Lost(Exception):
    """Stands in for ray.exceptions.RayActorError."""


class FakeRay:
    exceptions = SimpleNamespace(RayActorError=Lost)

    def __init__(self):
        self.killed = []

    @staticmethod
    def get(value, timeout=None):
        if isinstance(value, BaseException):
            raise value
        return value

    def kill(self, actor):
        self.killed.append(actor)


class FakeActor:
    """A node meter "actor": each method has `.remote`, which runs it at once after `delay_s` of fake time."""

    def __init__(self, meter: NodeMeter, clock, delay_s: float, place: dict):
        self.meter, self.clock, self.delay_s, self.place = meter, clock, delay_s, place
        self.lost = False

    def __getattr__(self, name):
        def remote(*args):
            if self.lost:
                return Lost(f"The actor died unexpectedly ({self.place['node_id']})")
            self.clock.sleep(self.delay_s)
            return self.place if name == "where" else getattr(self.meter, name)(*args)

        return SimpleNamespace(remote=remote)


NODE_A = {"node_id": "a" * 56, "ip": "10.0.0.1", "hostname": "gpu-a"}
NODE_B = {"node_id": "b" * 56, "ip": "10.0.0.2", "hostname": "gpu-b"}


def cluster(monkeypatch, node_b_gpus=None, delays=(0.002, 0.003)):
    """Node A: GPUs 0 and 1 (300 W, 200 W); node B: GPUs 2 and 3 (250 W, 150 W) unless given ([]: no GPU)."""
    b = [SimulatedGpu(2, power_w=250.0), SimulatedGpu(3, power_w=150.0)] if node_b_gpus is None else node_b_gpus
    sim = simulate(monkeypatch, SimulatedGpu(0, power_w=300.0), SimulatedGpu(1, power_w=200.0), *b)
    uuids = [g.uuid for g in sim.gpus]
    a_meter, b_meter = NodeMeter(uuids[:2], start=False), NodeMeter(uuids[2:], start=False)
    actors = [FakeActor(a_meter, sim.clock, delays[0], NODE_A), FakeActor(b_meter, sim.clock, delays[1], NODE_B)]
    ray = FakeRay()
    return ClusterMeter(actors, ray), actors, sim.clock, ray


def test_energy_is_each_nodes_own_counters_summed_and_edges_are_bounded_by_the_round_trip(monkeypatch):
    meter, _, clock, _ = cluster(monkeypatch)
    assert (meter.method, meter.boundary) == ("nvml-counter", "gpu")
    start = meter.snapshot()
    clock.sleep(10.0)
    end = meter.snapshot()
    reading = meter.reading(start, end)

    # Node A answers 2 ms after the request, node B 3 ms after A: the driver's edge is the round trip's midpoint.
    assert start.counters[1] == pytest.approx(0.005) and reading.edge_skew_s == pytest.approx(0.0025)
    a, b = reading.per_node
    # Each node's window runs between its own two snapshots: 10 s plus the 5 ms of replies in between.
    assert a["duration_s"] == b["duration_s"] == pytest.approx(10.005)
    assert a["energy_j"] == pytest.approx(500.0 * 10.005) and b["energy_j"] == pytest.approx(400.0 * 10.005)
    assert a | {"energy_j": 0, "duration_s": 0} == NODE_A | {
        "method": "nvml-counter",
        "boundary": "gpu",
        "energy_j": 0,
        "duration_s": 0,
        "gpus": 2,
        "flags": [],
        "per_device_j": [pytest.approx(300.0 * 10.005), pytest.approx(200.0 * 10.005)],
    }
    assert b["node_id"] == NODE_B["node_id"] and b["gpus"] == 2
    assert b["per_device_j"] == [pytest.approx(250.0 * 10.005), pytest.approx(150.0 * 10.005)]

    assert reading.energy_j == pytest.approx(900.0 * 10.005)
    assert reading.duration_s == pytest.approx(10.005) == end.t - start.t
    assert reading.avg_power_w == pytest.approx(900.0)
    assert reading.per_device_j == a["per_device_j"] + b["per_device_j"]
    assert (reading.method, reading.boundary, reading.flags, reading.measured) == ("nvml-counter", "gpu", [], True)
    assert reading.basis.startswith("summed over 2 node(s), each node's own counters differenced over its own clock")
    assert "NVML total-energy counter difference summed over 2 GPU(s)" in reading.basis
    assert meter.samples(start.t, end.t) == []


def test_idle_baseline_works_through_snapshots_and_readings(monkeypatch):
    meter, *_ = cluster(monkeypatch, delays=(0.0, 0.0))
    assert meter.idle_baseline(5.0) == pytest.approx(900.0)


def test_a_node_without_its_counter_leaves_the_total_unknown_not_short(monkeypatch):
    meter, actors, clock, _ = cluster(
        monkeypatch, node_b_gpus=[SimulatedGpu(2, power_w=250.0, counter_supported=False)]
    )
    assert meter.method == "mixed: nvml-counter, nvml-sampled"
    start = meter.snapshot()
    clock.sleep(10.0)
    reading = meter.reading(start, meter.snapshot())
    a, b = reading.per_node
    assert a["energy_j"] == pytest.approx(500.0 * 10.005) and b["energy_j"] is None
    assert reading.energy_j is None and reading.avg_power_w is None
    assert reading.method == "mixed: nvml-counter, nvml-sampled" and reading.boundary == "gpu"
    assert {"counter-unavailable", "no-power-samples", "mixed-methods"} <= set(reading.flags)
    assert reading.per_device_j[2] is None and "10.0.0.2: " in reading.basis

    # With the node's power sampled through the window, its share is integrated and the total is known again.
    start = meter.snapshot()
    for _ in range(5):
        actors[1].meter.meter.sampler.sample_once()
        clock.sleep(2.0)
    reading = meter.reading(start, meter.snapshot())
    assert reading.per_node[1]["energy_j"] == pytest.approx(250.0 * 10.005)  # constant power over its window
    assert reading.energy_j == pytest.approx(750.0 * 10.005) and "mixed-methods" in reading.flags


def test_a_node_without_gpus_is_estimated_and_so_is_the_sum(monkeypatch):
    monkeypatch.setattr(meters, "rapl_zones", lambda root: ([], "no RAPL here"))
    meter, *_ = cluster(monkeypatch, node_b_gpus=[])
    assert meter.method == "estimated" and meter.boundary == "mixed: gpu, cpu"
    start = meter.snapshot()
    reading = meter.reading(start, meter.snapshot())
    assert (reading.method, reading.boundary, reading.measured) == ("estimated", "mixed: gpu, cpu", False)
    assert reading.per_node[1]["method"] == "estimated" and reading.per_node[1]["gpus"] == 0
    assert "mixed-methods" in reading.flags
    described = meter.describe()
    assert described["meter"] == "ray-nodes" and [n["meter"] for n in described["nodes"]] == ["nvml", "cpu-estimate"]
    assert described["nodes"][0]["node_id"] == NODE_A["node_id"] and described["nodes"][0]["gpus"][0].startswith("GPU-")


def test_a_lost_node_is_named_and_stop_still_ends_every_actor(monkeypatch):
    meter, actors, clock, ray = cluster(monkeypatch)
    start = meter.snapshot()
    clock.sleep(1.0)
    end = meter.snapshot()
    actors[1].lost = True
    for call in (meter.snapshot, lambda: meter.reading(start, end)):
        with pytest.raises(NodeLost, match=f"Ray node {NODE_B['node_id']} \\(10.0.0.2, gpu-b\\) did not answer"):
            call()
    meter.stop()
    meter.stop()
    assert ray.killed == actors


def test_node_meter_refuses_a_gpu_its_node_does_not_have(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    with pytest.raises(ValueError, match="has no GPU GPU-nope"):
        NodeMeter(["GPU-nope"], start=False)


def test_each_nodes_samples_reach_the_throttling_and_temperature_checks(monkeypatch):
    from bench.energy.checks import throttling

    hot = SimulatedGpu(2, power_w=250.0, temperature_c=88, clock_event_reasons=0x40)  # HW thermal slowdown
    meter, actors, clock, _ = cluster(monkeypatch, node_b_gpus=[hot])
    start = meter.snapshot()
    for _ in range(4):
        for actor in actors:
            actor.meter.meter.sampler.sample_once()
        clock.sleep(1.0)
    end = meter.snapshot()
    samples = meter.samples(start.t, end.t)
    assert len(samples) == 4 * 3  # node A's two GPUs and node B's one, four times
    assert max(s.temperature_c for s in samples) == 88
    assert throttling(samples)["ok"] is False and throttling(samples)["fractions"] == {"hw-thermal-slowdown": 0.3333}
    assert meter.samples(start.t, end.t + 1.0) == []  # not a window of this meter's snapshots
