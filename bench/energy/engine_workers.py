"""Where a multi-node engine's workers really run, against the GPUs tokencost reserved and meters.

vLLM 0.32 uses tokencost's placement group only when its engine is created in a Ray actor scheduled in that
group (vllm/engine/arg_utils.py, `if is_in_ray_actor(): placement_group = ray.util.get_current_placement_group()`),
and its server always reserves a group of its own with no node or accelerator constraint
(vllm/v1/executor/ray_utils.py, `initialize_ray_cluster`). So after every start the workers are found and
compared with the metered GPUs; a point whose workers run elsewhere is not measured.

Offline: `where_this_worker_runs` runs in each worker through `LLM.collective_rpc`. Serving: Ray's state API
lists vLLM's worker actors (node and pid) and each node's meter says which of its metered GPUs runs each pid.
"""

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

WORKER_CLASS = "RayWorkerProc"  # vLLM 0.32's Ray worker actor (vllm/v1/executor/ray_executor_v2.py)


def where_this_worker_runs(worker: Any = None) -> dict[str, Any]:
    """Run inside a vLLM worker (collective_rpc passes it): its Ray node, its GPU's UUID (NVML, through
    CUDA_VISIBLE_DEVICES and the worker's device index) and its pid."""
    import ray

    from bench.energy import gpus

    device = getattr(getattr(worker, "device", None), "index", None)
    if device is None:
        device = getattr(worker, "local_rank", 0) or 0
    visible = gpus.visible_gpus() if gpus.nvml_available() else []
    return {
        "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
        "gpu_uuid": visible[device].uuid if device < len(visible) else None,
        "pid": os.getpid(),
    }


def serving_workers(ray: Any, pids_on_metered_gpus: Mapping[str, Mapping[int, str]]) -> list[dict[str, Any]]:
    """vLLM's live worker actors on the cluster, each with its node and the metered GPU running its pid (None
    where no metered GPU of its node runs it). `pids_on_metered_gpus`: node id -> {pid: GPU UUID}."""
    from ray.util.state import list_actors

    actors = list_actors(filters=[("class_name", "=", WORKER_CLASS), ("state", "=", "ALIVE")], detail=True)
    return [
        {
            "node_id": a.node_id,
            "pid": a.pid,
            "gpu_uuid": pids_on_metered_gpus.get(a.node_id or "", {}).get(a.pid or -1),
        }
        for a in actors
    ]


def mismatch(metered: Iterable[Mapping[str, Any]], workers: Iterable[Mapping[str, Any]]) -> str | None:
    """Why the workers' (node, GPU) pairs are not exactly the metered GPUs'; None when they are.

    `metered`: HardwareInfo.gpus entries (node_id, uuid); `workers`: where_this_worker_runs's answers."""
    expected = Counter((g.get("node_id"), g.get("uuid")) for g in metered)
    seen = Counter((w.get("node_id"), w.get("gpu_uuid")) for w in workers)
    if seen == expected:
        return None
    unmetered, idle = seen - expected, expected - seen
    parts = []
    if unmetered:
        parts.append(f"vLLM's workers run on {_places(unmetered)}, which tokencost does not meter")
    if idle:
        parts.append(f"no worker runs on the metered {_places(idle)}")
    return "; ".join(parts)


def _places(pairs: Counter[tuple[Any, Any]]) -> str:
    return ", ".join(
        f"GPU {(uuid or 'unknown')[:16]} on node {(node or 'unknown')[:12]}" + (f" (x{n})" if n > 1 else "")
        for (node, uuid), n in sorted(pairs.items(), key=str)
    )
