"""What one node does for a fleet sweep: measure one group's points as a one-machine run would, in a run
directory of its own, sending each record to the fleet's sink as soon as it is on that node's disk."""

import os
import signal
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench import console
from bench.fleet.groups import Group
from bench.inputs.suite import Suite
from bench.run.record import PointRecord
from bench.run.records import migrated
from bench.serve.capacity import CAPACITY_FILE
from bench.validation import parse

T = TypeVar("T")
LOCAL_ROOT = Path(tempfile.gettempdir()) / "tokencost-fleet"


def measure_group(
    suite_data: dict,
    group: Group,
    run_id: str,
    earlier: list[dict],
    sink,
    watts_per_vcpu: float,
    spanning: dict | None = None,
) -> dict:
    """Measure `group` on this node; `earlier` are the fleet run's ok records of the group (keys as in the
    fleet's directory), which are not measured again. Returns what the node ran on and its capacity lines.

    `spanning`: an engine over several nodes (vLLM's Ray backend), this task scheduled in its placement
    group: {"meters": the node meter actors, "hardware": the whole engine's GPUs and nodes}."""
    import ray

    from bench.offline import run_sweep
    from bench.serve.sweep import run_serve_sweep

    node_id = ray.get_runtime_context().get_node_id()
    # The driver interrupts a task by a SIGTERM to its process (bench.fleet.sweep): a KeyboardInterrupt here,
    # as on one machine, so the point is recorded as interrupted and the engine ends.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    ray.get(sink.started.remote(group.name, node_id, os.getpid()))
    suite = group.suite(parse(Suite, suite_data, "the fleet's suite"))
    local_dir = LOCAL_ROOT / uuid.uuid4().hex[:12] / run_id  # the directory's name is the records' run id

    def local(record: dict) -> PointRecord:
        record = migrated(record, "an earlier record") | {"point": record["point"].removeprefix(group.prefix)}
        return parse(PointRecord, record, "an earlier record")

    def send(record: PointRecord) -> None:
        hardware = record.hardware.model_copy(update={"ray_node": node_id})
        fleet_record = record.model_copy(update={"point": group.prefix + record.point, "hardware": hardware})
        ray.get(sink.append.remote(group.name, fleet_record.to_json()))

    options = {}
    if spanning:
        from bench.energy.cluster_meter import ClusterMeter

        options = {"meter": ClusterMeter(spanning["meters"], ray), "hardware": spanning["hardware"]}
        os.environ["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address  # for vLLM's server, a process of its own
        # Forking the engine core from a Ray worker can hang it (vLLM PR #14705); vLLM forces spawn in an actor
        # anyway, and the server's workers take it from here.
        os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"
    sweep = run_serve_sweep if suite.mode == "serve" else run_sweep
    # Ray forwards what the task prints to the driver, prefixed with the task's name (the group).
    with console.shown():
        result = sweep(
            suite,
            local_dir,
            watts_per_vcpu=watts_per_vcpu,
            sink=send,
            earlier=tuple(local(r) for r in earlier),
            **options,
        )
    capacity = local_dir / CAPACITY_FILE
    return {
        "node_id": node_id,
        "local_dir": str(local_dir),
        "start_errors": [str(e) for e in result.start_errors],
        "capacity": capacity.read_text().splitlines() if capacity.is_file() else [],
    }


class GroupActor:
    """A spanning engine's group, measured in a Ray actor scheduled in tokencost's placement group: vLLM 0.32
    takes the current placement group only inside an actor (vllm/engine/arg_utils.py, `is_in_ray_actor()`),
    passes it to its engine core and places its workers in its bundles."""

    def run(self, function: Callable[..., T], *args: Any) -> T:
        return function(*args)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt(pid: int) -> None:
    """Run on a task's node: ask its process to stop (see measure_group)."""
    os.kill(pid, signal.SIGTERM)
