"""Energy of an engine that spans several Ray nodes: one meter per node, read together at the driver's window edges.

A `NodeMeter` runs as a Ray actor on each node holding some of the engine's GPUs (the caller makes it one with
`ray.remote(NodeMeter)`; this module imports without Ray). A `ClusterMeter`, in the process that decides the
window edges, is a `Meter` over those actors.

Clocks. Each node differences its own cumulative counters over its own monotonic clock, so the joules and
the node's window length never mix two machines' clocks, and no clock sync between nodes is needed;
wall-clock skew between nodes does not enter at all. What may differ is *when* each node's edge falls: the
driver asks every node for a snapshot at once, and each node takes its snapshot somewhere between the request
and the last reply. The snapshot's time is the driver's midpoint of that interval, so each node's edge lies
within half the round trip of it; a reading records the larger of its two edges' half round trips as
`edge_skew_s`. Over a window of T seconds the total may be off by at most about 2 x edge_skew_s / T of the
power, and is exact while power is steady at the edges.
"""

import importlib
import socket
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from bench.energy import gpus
from bench.energy.meters import DEFAULT_WATTS_PER_VCPU, EnergyReading, Meter, Snapshot, make_meter
from bench.energy.sampler import Sample

DEFAULT_TIMEOUT_S = 30.0  # a node that has not answered by then is lost (Ray takes ~15-30 s to declare one dead)
# Methods that make a sum unmeasured wherever one node has them, weakest first.
UNMEASURED = ("none", "estimated")
# Ray's errors that mean a node (or its meter actor) is gone or not answering, as opposed to the meter failing.
LOST_ERRORS = ("RayActorError", "GetTimeoutError", "NodeDiedError", "ObjectLostError", "OwnerDiedError")


KEPT_SNAPSHOTS = 16  # a point takes four (its whole window and its steady one)


class NodeMeter:
    """The meter of one node's share of the engine: its GPUs by UUID (NVML), or its CPUs when it has none."""

    def __init__(self, gpu_uuids: list[str], watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU, *, start: bool = True):
        by_uuid = {d.uuid: d for d in gpus.all_gpus()}
        missing = [u for u in gpu_uuids if u not in by_uuid]
        if missing:
            raise ValueError(
                f"NVML on {socket.gethostname()} has no GPU {missing[0]} (it has: {', '.join(by_uuid) or 'none'})"
            )
        self.devices = [by_uuid[u] for u in gpu_uuids]
        self.meter = make_meter(self.devices, watts_per_vcpu)
        self.running = False
        if start:  # tests on a fake clock sample by hand
            self.start()

    def start(self) -> None:
        if not self.running:
            self.meter.start()
            self.running = True

    def stop(self) -> None:
        if self.running:
            self.meter.stop()
            self.running = False

    def snapshot(self) -> Snapshot:
        return self.meter.snapshot()

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        return self.meter.reading(start, end)

    def describe(self) -> dict[str, Any]:
        return self.meter.describe() | {"method": self.meter.method, "boundary": self.meter.boundary}

    def gpus(self) -> list[dict[str, Any]]:
        return gpus.describe(self.devices)

    def samples_between(self, start: Snapshot, end: Snapshot) -> list[Sample]:
        """This node's power samples between two of its snapshots, on its own clock."""
        return self.meter.samples(start.t, end.t)

    def gpu_pids(self) -> dict[int, str]:
        """The compute processes on this node's metered GPUs: pid -> GPU UUID (where vLLM's workers run)."""
        from bench.energy.processes import pids_on

        return pids_on(self.devices)

    def where(self) -> dict[str, Any]:
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "ip": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]  # Ray leaves it unannotated
            "hostname": socket.gethostname(),
        }


class NodeLost(RuntimeError):
    """A node holding some of the engine's GPUs stopped answering its meter: the window cannot be measured."""

    def __init__(self, node: dict[str, Any], what: str, cause: BaseException):
        self.node, self.what = node, what
        said = (str(cause).strip().splitlines() or [""])[0][:200]
        super().__init__(
            f"Ray node {node.get('node_id', '?')} ({node.get('ip', '?')}, {node.get('hostname', '?')}) "
            f"did not answer the energy meter's {what} ({type(cause).__name__}: {said}); the "
            "engine's energy on that node cannot be measured"
        )


class ClusterMeter(Meter):
    """A meter over node meter actors: snapshots taken on every node at once, readings summed over the nodes.

    Snapshot counters: (each node's Snapshot, the round trip in seconds of the driver's request).
    """

    def __init__(self, nodes: list[Any], ray: ModuleType | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
        if not nodes:
            raise ValueError("a cluster meter needs at least one node meter")
        self.ray = importlib.import_module("ray") if ray is None else ray
        self.nodes = list(nodes)
        self.timeout_s = timeout_s
        exceptions = self.ray.exceptions
        self.lost_errors = tuple(getattr(exceptions, name) for name in LOST_ERRORS if hasattr(exceptions, name))
        self.places: list[dict[str, Any]] = [
            {} for _ in self.nodes
        ]  # where each node is, for NodeLost: unknown until where() answers
        self.places = self._all("where")
        # Each node's snapshots, by the driver's time of the snapshot, so that samples(t0, t1) can ask every
        # node for the samples between its own two (the last few only: points ask right after their window).
        self._taken: dict[float, tuple[Any, ...]] = {}
        self.details = self._all("describe")
        self.stopped = False
        self.method = _common([d["method"] for d in self.details], UNMEASURED)
        self.boundary = _common([d["boundary"] for d in self.details])

    def pids_on_metered_gpus(self) -> dict[str, dict[int, str]]:
        """Node id -> {pid: GPU UUID} of the compute processes on each node's metered GPUs."""
        return {place.get("node_id", "?"): pids for place, pids in zip(self.places, self._all("gpu_pids"))}

    def _all(self, what: str, *args_per_node: Sequence[Any]) -> list[Any]:
        """Call `what` on every node at once; the answers in node order, or NodeLost naming the first silent node."""
        refs = [getattr(node, what).remote(*(a[i] for a in args_per_node)) for i, node in enumerate(self.nodes)]
        deadline = time.monotonic() + self.timeout_s
        answers = []
        for place, ref in zip(self.places, refs):
            try:
                answers.append(self.ray.get(ref, timeout=max(0.0, deadline - time.monotonic())))
            except self.lost_errors as e:
                raise NodeLost(place, what, e) from e
        return answers

    def describe(self) -> dict[str, Any]:
        return {
            "meter": "ray-nodes",
            "method": self.method,
            "boundary": self.boundary,
            "nodes": [d | p for d, p in zip(self.details, self.places)],
        }

    def start(self) -> None:
        self._all("start")

    def stop(self) -> None:
        """Stop every node's sampler and end its actor; a lost node is not waited for."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self._all("stop")
        except NodeLost:
            pass
        finally:
            for node in self.nodes:
                try:
                    self.ray.kill(node)
                except Exception:  # already gone with its node
                    pass

    def snapshot(self) -> Snapshot:
        sent = time.perf_counter()
        taken = self._all("snapshot")
        replied = time.perf_counter()
        t = (sent + replied) / 2
        self._taken[t] = tuple(taken)
        while len(self._taken) > KEPT_SNAPSHOTS:
            del self._taken[next(iter(self._taken))]
        return Snapshot(t, (tuple(taken), replied - sent))

    def reading(self, start: Snapshot, end: Snapshot) -> EnergyReading:
        (starts, start_trip), (ends, end_trip) = start.counters, end.counters
        if not len(starts) == len(ends) == len(self.nodes):
            raise ValueError(f"snapshots of {len(starts)} and {len(ends)} nodes for a meter of {len(self.nodes)}")
        readings = self._all("reading", starts, ends)
        duration = end.t - start.t
        skew = max(start_trip, end_trip) / 2
        energies = [r.energy_j for r in readings]
        energy = None if any(e is None for e in energies) else sum(energies)
        sampled = [r.sampled_avg_power_w for r in readings]
        methods = [r.method for r in readings]
        flags = list(dict.fromkeys(f for r in readings for f in r.flags))
        if len(set(methods)) > 1:
            flags.append("mixed-methods")
        return EnergyReading(
            _common(methods, UNMEASURED),
            _common([r.boundary for r in readings]),
            duration,
            energy,
            energy / duration if energy is not None and duration > 0 else None,
            self._basis(readings, skew),
            [j for r in readings for j in r.per_device_j],
            flags,
            None if any(s is None for s in sampled) else sum(sampled),
            [self._node_entry(place, details, r) for place, details, r in zip(self.places, self.details, readings)],
            skew,
        )

    @staticmethod
    def _node_entry(place: dict[str, Any], details: dict[str, Any], r: EnergyReading) -> dict[str, Any]:
        return {
            **place,
            "method": r.method,
            "boundary": r.boundary,
            "energy_j": r.energy_j,
            "duration_s": r.duration_s,
            "per_device_j": r.per_device_j,
            "gpus": len(details.get("gpus", [])),
            "flags": r.flags,
        }

    def _basis(self, readings: list[EnergyReading], skew: float) -> str:
        bases = [r.basis for r in readings]
        each = (
            bases[0]
            if len(set(bases)) == 1
            else "; ".join(f"{p.get('ip') or p.get('node_id')}: {b}" for p, b in zip(self.places, bases))
        )
        return (
            f"summed over {len(readings)} node(s), each node's own counters differenced over its own clock; "
            f"window edges within {skew:.3g} s of the driver's (half the longest snapshot round trip); "
            f"each node: {each}"
        )

    def samples(self, t0: float, t1: float) -> list[Sample]:
        """Every node's power samples between its own snapshots taken at t0 and t1 (this meter's snapshot
        times), for the throttling and temperature checks; each sample's time is on its node's clock. None
        when t0 or t1 is not one of the last snapshots taken."""
        starts, ends = self._taken.get(t0), self._taken.get(t1)
        if starts is None or ends is None:
            return []
        return [sample for node in self._all("samples_between", starts, ends) for sample in node]


def _common(values: list[str], weakest: tuple[str, ...] = ()) -> str:
    """The one value all nodes share; else the weakest of `weakest` that some node has (a sum with an
    unmeasured part is not measured); else "mixed: a, b"."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return distinct[0]
    for value in weakest:
        if value in distinct:
            return value
    return "mixed: " + ", ".join(distinct)
