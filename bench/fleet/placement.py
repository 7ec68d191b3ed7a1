"""A multi-node engine's GPUs: reserved as a Ray placement group before the engine starts, then found node by node.

vLLM's Ray backend uses the current placement group when the engine is created inside a Ray *actor*
scheduled in it (with placement_group_capture_child_tasks), one GPU per bundle: vLLM 0.32 takes the group only
`if is_in_ray_actor()` (vllm/engine/arg_utils.py), so a fleet sweep measures such a group in an actor
(bench.fleet.task.GroupActor), and checks after the start that the workers run on the metered GPUs
(bench.energy.engine_workers). tokencost reserves that group itself, so it
knows before the engine starts which nodes and GPUs the engine will run on, and meters exactly those:

    pg = reserve(ray, gpus=4, resources=group.resources())
    shares = layout(ray, pg)                       # which node holds which bundles, and their GPUs' UUIDs
    meters = start_node_meters(ray, shares, watts_per_vcpu)
    meter = ClusterMeter(meters, ray)              # bench.energy.cluster_meter
    info = hardware(ray, shares, meters)           # HardwareInfo fields for the whole engine
    ...
    meter.stop(); release(ray, pg)

`layout` finds a bundle's GPU by running a probe task in it. That relies on Ray keeping the GPU instance a
bundle reserved for whatever runs in the bundle later (vLLM's workers): Ray assigns GPU instances to a bundle
when the group is committed and hands those to each task in it, and the local tests confirm a second probe
sees the same one; it must still be confirmed on a real multi-node GPU cluster, with vLLM's workers.
"""

import socket
from dataclasses import dataclass

from bench.energy.cluster_meter import DEFAULT_TIMEOUT_S, NodeMeter
from bench.energy.meters import DEFAULT_WATTS_PER_VCPU
from bench.environment import hardware as machine_hardware
from bench.errors import UserError

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
RESERVE_TIMEOUT_S = 120.0
RESERVE_FIX = "free or add GPUs (nodes), or lower tensor/pipeline parallel sizes"


@dataclass(frozen=True)
class NodeShare:
    """The bundles of the engine's placement group on one node, and the GPUs Ray gave them there."""

    node_id: str
    ip: str
    hostname: str
    bundles: tuple[int, ...]
    gpu_uuids: tuple[str, ...]  # in bundle order; empty where the node's NVML sees no GPU

    def summary(self) -> dict:
        """An entry of HardwareInfo.nodes: `gpus` counts the engine's GPUs on the node (one per bundle)."""
        return {"node_id": self.node_id, "ip": self.ip, "hostname": self.hostname, "gpus": len(self.bundles)}


def reserve(
    ray, gpus: int, resources: dict | None = None, strategy: str = "PACK", timeout_s: float = RESERVE_TIMEOUT_S
):
    """A placement group of `gpus` bundles of one GPU and one CPU each (plus `resources`, e.g. an accelerator
    type), ready; or a UserError, with the group removed, when the cluster cannot place it in time."""
    if strategy not in STRATEGIES:
        raise ValueError(f"placement strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    bundle = {"GPU": 1, "CPU": 1} | (resources or {})
    total = ray.cluster_resources().get("GPU", 0)
    if total < gpus:
        raise UserError(
            "engine.tensor_parallel_size",
            f"the engine needs {gpus} GPUs and the Ray cluster has {total:g}",
            RESERVE_FIX,
        )
    pg = ray.util.placement_group([dict(bundle) for _ in range(gpus)], strategy=strategy)
    ready, _ = ray.wait([pg.ready()], timeout=timeout_s)
    if not ready:
        free = ray.available_resources().get("GPU", 0)
        ray.util.remove_placement_group(pg)
        raise UserError(
            "engine.tensor_parallel_size",
            f"{gpus} bundles of {bundle} ({strategy}) could not be "
            f"placed on the Ray cluster within {timeout_s:g} s ({free:g} of its {total:g} GPUs free)",
            RESERVE_FIX,
        )
    return pg


def _probe() -> dict:
    """Where a task of a bundle runs, and the GPUs it sees (CUDA_VISIBLE_DEVICES as Ray set it)."""
    import os

    import ray

    from bench.energy import gpus

    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "hostname": socket.gethostname(),
        "gpu_ids": [str(i) for i in ray.get_gpu_ids()],
        "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_uuids": [d.uuid for d in gpus.visible_gpus()],
    }


def probe_bundles(ray, pg, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """One probe task per bundle (holding its GPU while it runs), all at once; their answers in bundle order."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    probe = ray.remote(max_retries=0)(_probe)
    refs = [
        probe.options(
            num_gpus=1,
            num_cpus=0,
            scheduling_strategy=PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i),
        ).remote()
        for i in range(pg.bundle_count)
    ]
    return ray.get(refs, timeout=timeout_s)


def layout(ray, pg, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[NodeShare]:
    """The nodes holding the group's bundles, in the order of their first bundle, each with its GPUs' UUIDs."""
    by_node: dict[str, list] = {}
    for index, seen in enumerate(probe_bundles(ray, pg, timeout_s)):
        by_node.setdefault(seen["node_id"], []).append((index, seen))
    return [
        NodeShare(
            node_id,
            found[0][1]["ip"],
            found[0][1]["hostname"],
            tuple(i for i, _ in found),
            tuple(u for _, seen in found for u in seen["gpu_uuids"]),
        )
        for node_id, found in by_node.items()
    ]


def start_node_meters(ray, shares: list[NodeShare], watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU) -> list:
    """One NodeMeter actor per node, pinned there. An explicit strategy keeps it out of the engine's
    placement group even when created inside a task that captures its children into it."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor = ray.remote(NodeMeter)
    return [
        actor.options(
            num_cpus=0, max_restarts=0, scheduling_strategy=NodeAffinitySchedulingStrategy(share.node_id, soft=False)
        ).remote(list(share.gpu_uuids), watts_per_vcpu)
        for share in shares
    ]


def hardware(ray, shares: list[NodeShare], meters: list, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """HardwareInfo's fields for the whole engine: every node's GPUs, counted and named together."""
    described = ray.get([m.gpus.remote() for m in meters], timeout=timeout_s)
    devices = [g | {"node_id": share.node_id} for share, node_gpus in zip(shares, described) for g in node_gpus]
    names = list(dict.fromkeys(g["name"] for g in devices))
    count = sum(len(s.bundles) for s in shares)
    if len(names) == 1:
        accelerator = machine_hardware(devices)["accelerator"]  # named as one machine's run names it
    elif names:
        accelerator = "mixed: " + ", ".join(f"{sum(g['name'] == n for g in devices)} x {n}" for n in names)
    else:
        accelerator = "GPU (not seen by NVML)"
    where = ", ".join(f"{s.hostname or s.ip} ({len(s.bundles)})" for s in shares)
    return {
        "accelerator": accelerator,
        "accelerator_count": count,
        "gpus": devices,
        "nodes": [s.summary() for s in shares],
        "note": f"one engine across {len(shares)} Ray node(s), GPUs per node: {where}; energy summed over "
        "the nodes, each metered on its own clock",
    }


def release(ray, pg) -> None:
    ray.util.remove_placement_group(pg)
