"""A fleet sweep: a suite fanned out over a Ray cluster, one Ray task per group (a model on an accelerator
type), records streamed into one run directory.

The driver (this process, on a node of the cluster) checks everything before any task starts, writes
run.json, and starts the sink that appends records (bench.fleet.sink). A group's task measures its points on
the node Ray gives it, as a one-machine run would (bench.fleet.task). A task that dies with its node (or for
any other reason) leaves its points that sent no record failed, as `node-lost`; `--resume` measures them, and
every point that failed, again. Ray retries nothing itself: a point is measured once per run or resume.
"""

import json
import logging
from pathlib import Path
from typing import Any

from bench import environment
from bench.errors import UserError
from bench.fleet import cluster, placement
from bench.fleet.groups import Group, check_schedulable, plan_groups
from bench.fleet.sink import RecordSink
from bench.fleet.task import GroupActor, interrupt, measure_group
from bench.inputs.cards import load_card
from bench.inputs.suite import Suite
from bench.run.point import now
from bench.run.record import HardwareInfo, PointRecord, SoftwareInfo
from bench.run.run import PlannedPoint, SweepResult, planned_record
from bench.run.run_dir import RunDirectory
from bench.secrets import redact
from bench.serve.capacity import CAPACITY_FILE
from bench.validation import parse

logger = logging.getLogger(__name__)

CANCEL_GRACE_S = 30.0  # an interrupted task's time to end its engine before it is killed


def run_fleet(
    suite: Suite,
    run_dir: Path,
    *,
    address: str,
    resume: bool = False,
    watts_per_vcpu: float,
) -> SweepResult:
    """Measure the suite's groups on the cluster at `address`; options as `run_sweep`'s."""
    suite.check_runnable()
    for model in suite.models:
        load_card(model)  # a bad card is one line before any task starts
    if suite.mode == "serve" and suite.serve.endpoint:
        raise UserError(
            "--ray-address",
            "fans a suite out over a cluster's nodes, and an endpoint is measured from here",
            "leave out --endpoint, or --ray-address",
        )
    folder = RunDirectory(run_dir, resume=resume)
    if resume:
        folder.resumed_run(suite, fleet=True)
    else:
        folder.check_new()
    earlier = folder.ok_records() if resume else []
    ray = cluster.connect(address)
    try:
        nodes = cluster.alive_nodes(ray)
        gpus = cluster.has_gpus(ray)
        if suite.engine.executor == "ray" and not gpus:
            raise UserError(
                "engine.executor",
                "'ray' is vLLM's Ray backend, which runs on CUDA GPUs, and no node of the cluster has one",
                "use executor = 'default' on a CPU cluster",
            )
        groups = plan_groups(suite, nodes)
        check_schedulable(groups, suite, nodes, gpus)
        return _measure(
            ray,
            suite,
            folder,
            groups,
            earlier,
            address=address,
            nodes=nodes,
            gpus=gpus,
            watts_per_vcpu=watts_per_vcpu,
        )
    finally:
        ray.shutdown()


def _measure(
    ray: Any,
    suite: Suite,
    folder: RunDirectory,
    groups: list[Group],
    earlier: list[PointRecord],
    *,
    address: str,
    nodes: list[cluster.Node],
    gpus: bool,
    watts_per_vcpu: float,
) -> SweepResult:
    folder.create()
    _write_run_file(folder, suite, address, nodes, groups, watts_per_vcpu)
    run_dir = folder.path
    done = {r.point for r in earlier}
    planned = {g: g.planned(suite) for g in groups}
    todo = [g for g in groups if any(p.key not in done for p in planned[g]) or suite.serve.capacity]
    logger.info(
        f"fleet: {len(nodes)} node(s); {len(todo)} of {len(groups)} group(s) to measure: "
        + ", ".join(g.name for g in todo)
    )
    driver_node = ray.get_runtime_context().get_node_id()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    sink = (
        ray.remote(RecordSink)
        .options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(driver_node, soft=False))
        .remote(str(run_dir))
    )
    remote = ray.remote(max_calls=1, max_retries=0)(measure_group)  # a fresh worker process for each group
    running, reserved = {}, {}
    actors: dict[Any, Any] = {}  # the spanning groups' actors, by their measure call (bench.fleet.task.GroupActor)
    waiting = list(todo)

    def launch(group: Group) -> None:
        options = dict(
            num_gpus=group.task_gpus(suite, gpus), resources=group.resources(), name=f"tokencost {group.name}"
        )
        spanning = None
        if suite.engine.executor == "ray":
            pg, spanning, placed = _span_nodes(ray, suite, group, watts_per_vcpu)
            reserved.update({group: pg} if pg else {})
            options |= placed
        mine = [r.to_json() for r in earlier if r.point.startswith(group.prefix) and r.model.name == group.model]
        args = (suite.to_record(), group, run_dir.name, mine, sink, watts_per_vcpu, spanning)
        if spanning and group in reserved:  # in tokencost's placement group: an actor, so that vLLM captures it
            actor = group_actor(ray, options)
            ref = actor.run.remote(measure_group, *args)
            actors[ref] = actor
        else:
            ref = remote.options(**options).remote(*args)
        running[ref] = group

    # Engines that span nodes reserve their GPUs before their task starts: one at a time, or the second
    # reservation would wait on GPUs the first holds. The others all go at once, and Ray queues them.
    one_at_a_time = suite.engine.executor == "ray"
    result = SweepResult()
    try:
        while waiting or running:
            while waiting and not (one_at_a_time and running):
                launch(waiting.pop(0))
            ready, _ = ray.wait(list(running), num_returns=1)
            group = running.pop(ready[0])
            if ready[0] in actors:  # its engine has ended; the actor's worker process goes with it
                ray.kill(actors.pop(ready[0]))
            if group in reserved:
                placement.release(ray, reserved.pop(group))
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayError as e:
                result.failures += _lost(ray, sink, suite, run_dir, group, planned[group], done, e)
                continue
            logger.info(f"[{group.name}] done on node {outcome['node_id'][:12]}; its own copy: {outcome['local_dir']}")
            _keep_capacity(run_dir, group, outcome["capacity"])
            result.start_errors += [
                UserError("engine", e, "see the group's log above") for e in outcome["start_errors"]
            ]
            result.failures += [
                parse(PointRecord, r, "a fleet record")
                for r in ray.get(sink.arrivals.remote(group.name))
                if r["status"] != "ok"
            ]
    except KeyboardInterrupt:
        _cancel(ray, running, sink, actors)
        raise
    finally:
        for pg in reserved.values():
            placement.release(ray, pg)
    return result


def group_actor(ray: Any, options: dict[str, Any]) -> Any:
    """A GroupActor (bench.fleet.task) with a spanning group's scheduling options: in bundle 0 of tokencost's
    placement group, capturing its children, holding no resource itself."""
    return ray.remote(GroupActor).options(max_restarts=0, max_task_retries=0, **options).remote()


def _span_nodes(
    ray: Any, suite: Suite, group: Group, watts_per_vcpu: float
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """An engine over several nodes: its GPUs reserved as a placement group (one GPU a bundle, as vLLM's Ray
    backend wants), a meter on each node holding some, and the group's actor placed in bundle 0 so that vLLM's
    engine, created there, uses it (bench.energy.engine_workers checks that it did). Returns the group, what the task
    needs, and its scheduling options."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy

    pg = placement.reserve(ray, suite.engine.gpus, group.resources())
    try:
        shares = placement.layout(ray, pg)
        meters = placement.start_node_meters(ray, shares, watts_per_vcpu)
        hardware = placement.hardware(ray, shares, meters)
    except BaseException:
        placement.release(ray, pg)
        raise
    logger.info(
        f"[{group.name}] {suite.engine.gpus} GPUs on {len(shares)} node(s): "
        + ", ".join(f"{s.hostname or s.ip} x {len(s.gpu_uuids)}" for s in shares)
    )
    if suite.mode == "serve":
        # vLLM's server is a process of its own, outside any task's placement group: it reserves its own
        # (PACK, one GPU a bundle, no node or accelerator constraint) once this one is released. After it
        # starts, its workers' GPUs are checked against the metered ones (SweepRun.misplaced_workers).
        placement.release(ray, pg)
        hardware["note"] = (
            f"{hardware.get('note') or ''} vLLM's server reserved its own placement group after "
            "tokencost's was released; its workers were found on the metered GPUs after it started"
        ).strip()
        strategy: NodeAffinitySchedulingStrategy | PlacementGroupSchedulingStrategy = NodeAffinitySchedulingStrategy(
            shares[0].node_id, soft=False
        )
        pg = None
    else:
        strategy = PlacementGroupSchedulingStrategy(
            pg, placement_group_bundle_index=0, placement_group_capture_child_tasks=True
        )
    return (
        pg,
        {"meters": meters, "hardware": hardware},
        {"scheduling_strategy": strategy, "num_cpus": 0, "num_gpus": 0, "resources": {}},
    )


def _write_run_file(
    folder: RunDirectory,
    suite: Suite,
    address: str,
    nodes: list[cluster.Node],
    groups: list[Group],
    watts_per_vcpu: float,
) -> None:
    fleet = {"address": redact(address), "nodes": [n.summary() for n in nodes], "groups": [g.name for g in groups]}
    if folder.resume:
        folder.note_resumed({"at": now(), "fleet": fleet})
        return
    folder.start(
        {
            "started_at": now(),
            "run_id": folder.run_id,
            "suite": suite.to_record(),
            "fleet": fleet,
            "meter": {"meter": "per node (each group's node meters itself)", "watts_per_vcpu": watts_per_vcpu},
            "software": SoftwareInfo(**environment.software()).model_dump(),
        }
    )


def _keep_capacity(run_dir: Path, group: Group, lines: list[str]) -> None:
    """A group's capacity searches, their points keyed as in the fleet's directory."""
    with (run_dir / CAPACITY_FILE).open("a") as f:
        for line in lines:
            outcome = json.loads(line)
            outcome["points"] = [group.prefix + key for key in outcome.get("points", [])]
            outcome["accelerator"] = group.accelerator
            f.write(json.dumps(outcome) + "\n")


def _lost(
    ray: Any,
    sink: Any,
    suite: Suite,
    run_dir: Path,
    group: Group,
    planned: list[PlannedPoint],
    done: set[str],
    error: Exception,
) -> list[PointRecord]:
    """The group's task died (its node was lost, or its worker): its points that sent no record fail."""
    arrived = ray.get(sink.arrivals.remote(group.name))
    sent = {r["point"] for r in arrived}
    kind = (
        "node-lost"
        if isinstance(error, ray.exceptions.NodeDiedError) or "node" in str(error).lower()
        else "worker-died"
    )
    lines = redact(str(error)).strip().splitlines()
    message = lines[0][:300] if lines else type(error).__name__
    logger.info(f"[{group.name}] the group's task died ({kind}): {message}")
    hardware = (
        arrived[-1]["hardware"]
        if arrived
        else {
            "accelerator": group.accelerator or "unknown",
            "accelerator_count": suite.engine.gpus,
            "note": "the node was lost before it described its hardware",
        }
    )
    context = {
        "run_id": run_dir.name,
        "hardware": HardwareInfo(**hardware),
        "software": SoftwareInfo(**environment.software()),
    }
    card = load_card(group.model)
    failures = []
    for point in planned:
        if point.key in done or point.key in sent:
            continue
        record = planned_record(
            context,
            suite,
            card,
            point,
            "failed",
            failure=kind,
            error=message,
            error_class=type(error).__name__,
            finished_at=now(),
        )
        ray.get(sink.append.remote(group.name, record.to_json()))
        failures.append(record)
    return failures


def _cancel(ray: Any, running: dict[Any, Group], sink: Any, actors: dict[Any, Any]) -> None:
    """Ctrl-C or SIGTERM: each running task's process gets a SIGTERM from a helper on its node, which the task
    turns into a KeyboardInterrupt (it records its point as interrupted and ends its engine); a task not yet
    started is cancelled, and one still running after the grace is killed. Not ray.cancel for a running task:
    in Ray 2.60 its interrupt can race with the task's reply and abort this process. A group running as an
    actor (`actors`, by its call) is killed where a task would be cancelled: Ray cannot force-cancel an actor's
    call."""

    def stop(ref: Any) -> None:
        if ref in actors:
            ray.kill(actors[ref])
        else:
            ray.cancel(ref, force=True)

    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    where = ray.get(sink.tasks.remote())
    signaller = ray.remote(num_cpus=0, max_retries=0)(interrupt)
    for ref, group in running.items():
        if group.name in where:
            node_id, pid = where[group.name]
            signaller.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote(pid)
        else:
            stop(ref)
    _, left = ray.wait(list(running), num_returns=len(running), timeout=CANCEL_GRACE_S)
    for ref in left:
        stop(ref)
