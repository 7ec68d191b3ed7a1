"""A spanning group runs where vLLM 0.32 captures tokencost's placement group: in an actor in bundle 0.

vLLM takes the current placement group only `if is_in_ray_actor()` (vllm/engine/arg_utils.py); this asks vLLM's
own test of that, and Ray's current group, inside the fleet sweep's group actor on a real local cluster of two
simulated GPU nodes, and beside it in a plain task placed the same way (the old way, which vLLM ignores)."""

import pytest

from bench.fleet import sweep
from bench.fleet.cluster import alive_nodes
from bench.fleet.groups import plan_groups
from bench.inputs.suite import Suite, with_settings
from tests.support.ray_cluster import LocalRayCluster

pytest.importorskip("ray")
pytest.importorskip("vllm")
pytestmark = pytest.mark.timeout(300)

H100 = "NVIDIA H100 80GB HBM3"
TYPE = {"accelerator_type:H100": 1}


def what_vllm_captures() -> dict:
    """What vLLM's EngineArgs would take as its placement group, here; and whether this runs in the main thread,
    where measure_group's SIGTERM handler and the engine watchdog's SIGALRM can be set."""
    import threading

    import ray
    from vllm.ray.lazy_utils import is_in_ray_actor

    group = ray.util.get_current_placement_group() if is_in_ray_actor() else None
    return {
        "in_actor": is_in_ray_actor(),
        "group": group.id.hex() if group else None,
        "main_thread": threading.current_thread() is threading.main_thread(),
    }


def test_the_group_actor_is_where_vllm_takes_tokencosts_placement_group(tmp_path):
    suite = with_settings(
        Suite(), {"models": ["tiny-dense"], "engine.tensor_parallel_size": 4, "engine.executor": "ray"}
    )
    with LocalRayCluster(tmp_path) as cluster:
        sims = [[{"index": first + i, "name": H100} for i in range(2)] for first in (0, 2)]
        cluster.start_head(num_cpus=2, num_gpus=2, resources=TYPE, sim_gpus=sims[0])
        cluster.add_worker(num_cpus=2, num_gpus=2, resources=TYPE, sim_gpus=sims[1])
        with cluster.driver() as ray:
            (group,) = plan_groups(suite, alive_nodes(ray))
            pg, spanning, placed = sweep._span_nodes(ray, suite, group, 1.0)
            try:
                assert placed["num_cpus"] == 0 and placed["num_gpus"] == 0  # bundle 0 keeps its GPU for a worker
                actor = sweep.group_actor(ray, placed)
                in_actor = ray.get(actor.run.remote(what_vllm_captures), timeout=240)
                ray.kill(actor)
                in_task = ray.get(ray.remote(max_retries=0)(what_vllm_captures).options(**placed).remote(), timeout=240)
            finally:
                sweep.placement.release(ray, pg)
    assert in_actor == {"in_actor": True, "group": pg.id.hex(), "main_thread": True}
    assert in_task == {"in_actor": False, "group": None, "main_thread": True}  # what a task (the old way) gave vLLM
