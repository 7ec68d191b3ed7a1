"""A fleet sweep's groups: the points that must share a machine (a model on an accelerator type), what each
asks of the cluster, and the keys of its points in the fleet's run directory."""

from dataclasses import dataclass

from bench.errors import UserError
from bench.fleet.cluster import ACCELERATOR_RESOURCE, Node
from bench.inputs.suite import FleetSettings, Suite
from bench.run.run import PlannedPoint

# A group asks for a sliver of its accelerator type's resource: only where that type is, never limiting how
# many groups share a node (its GPUs do).
ACCELERATOR_SHARE = 0.001


@dataclass(frozen=True)
class Group:
    model: str
    accelerator: str | None = None  # a Ray accelerator type, as the cluster spells it; None: any node

    @property
    def name(self) -> str:
        return f"{self.model}@{self.accelerator}" if self.accelerator else self.model

    @property
    def prefix(self) -> str:
        """What the group's point keys start with in the fleet's run directory (one model is measured once
        per accelerator type, so the type tells its points apart)."""
        return f"{self.accelerator}/" if self.accelerator else ""

    def suite(self, suite: Suite) -> Suite:
        """The suite one node measures: this group's model, as a one-machine run."""
        return suite.model_copy(update={"models": (self.model,), "fleet": FleetSettings()})

    def planned(self, suite: Suite) -> list[PlannedPoint]:
        """The group's planned points, keyed as in the fleet's run directory."""
        from bench.offline import plan as offline_plan
        from bench.serve.sweep import plan as serve_plan

        local = (serve_plan if suite.mode == "serve" else offline_plan)(self.suite(suite))
        return [
            PlannedPoint(self.prefix + p.key, p.label, p.fields, p.model, p.in_flight, p.workload, p.precision)
            for p in local
        ]

    def task_gpus(self, suite: Suite, cluster_has_gpus: bool) -> int:
        """GPUs the group's task holds: the engine's on one node. vLLM's Ray backend reserves its own (a
        placement group that may span nodes), and a CPU-only cluster has none to hold."""
        if not cluster_has_gpus or suite.engine.executor == "ray":
            return 0
        return suite.engine.gpus

    def resources(self) -> dict:
        return {ACCELERATOR_RESOURCE.format(self.accelerator): ACCELERATOR_SHARE} if self.accelerator else {}


def plan_groups(suite: Suite, nodes: list[Node]) -> list[Group]:
    """One group per model and accelerator type, each type spelled as the cluster's nodes spell it."""
    if not suite.fleet.accelerators:
        return [Group(model) for model in suite.models]
    offered = {
        name.split(":", 1)[1]
        for node in nodes
        for name in node.resources
        if name.startswith(ACCELERATOR_RESOURCE.format(""))
    }
    spelled = {name.lower(): name for name in offered}
    missing = [a for a in suite.fleet.accelerators if a.lower() not in spelled]
    if missing:
        raise UserError(
            "fleet.accelerators",
            f"no node of the Ray cluster is of type {missing[0]} (its nodes offer: "
            f"{', '.join(sorted(offered)) or 'no accelerator type'})",
            "start a node of that type, or leave it out (--accelerators)",
        )
    return [Group(model, spelled[a.lower()]) for model in suite.models for a in suite.fleet.accelerators]


def check_schedulable(groups: list[Group], suite: Suite, nodes: list[Node], cluster_has_gpus: bool) -> None:
    """Each group must fit on a node of the cluster (or, with vLLM's Ray backend, on the GPUs of its nodes
    of that type together), before any task starts."""
    for group in groups:
        gpus = group.task_gpus(suite, cluster_has_gpus)
        if suite.engine.executor == "ray":
            typed = [n for n in nodes if n.offers(group.resources())]
            total = sum(n.resources.get("GPU", 0) for n in typed)
            if total < suite.engine.gpus:
                raise UserError(
                    "engine.executor",
                    f"{group.name} needs {suite.engine.gpus} GPUs for vLLM's Ray "
                    f"backend, and the cluster's nodes{' of that type' if group.accelerator else ''} "
                    f"have {total:g}",
                    "add nodes, or lower tensor/pipeline parallel sizes",
                )
        elif not any(n.offers(group.resources() | {"GPU": gpus}) for n in nodes):
            where = f"of type {group.accelerator} " if group.accelerator else ""
            raise UserError(
                "engine.tensor_parallel_size",
                f"{group.name} needs {gpus} GPUs on one node, and no node {where}of the Ray cluster has that many",
                "lower the parallel sizes, or use executor = 'ray' for an engine that spans nodes",
            )
