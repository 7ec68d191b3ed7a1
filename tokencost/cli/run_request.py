"""What `tokencost run` is asked to do, checked in one place before anything is printed, created or started.

A refused request is one line naming the flag or setting and the fix (exit 2), and leaves no trace.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import UserError
from bench.inputs.suite import SUITE_OPTIONS, Suite, load_suite, with_flags
from bench.run.run_dir import RunDirectory
from tokencost.cli.args import DEFAULT_RESULTS_DIR
from tokencost.cli.common import pricing_from
from tokencost.pricing.catalog import find_hardware

if TYPE_CHECKING:
    from bench.run.run import SweepResult
    from tokencost.pricing.catalog import HardwareEntry
    from tokencost.pricing.priced_runs import Pricing

# Settings only a serving run reads (serve.*): giving one chooses serve mode when --mode is left out, rather than
# measuring offline and dropping it.
SERVING_SETTINGS = "serve."
MAX_GPU_MEMORY_GIB = 4096  # more than any one GPU has: a typo, refused


@dataclass(frozen=True)
class RunRequest:
    """A `tokencost run` that passed every check: the suite to measure, where, on what, and how it is priced.

    Attributes:
        suite: the suite, the flags applied, each model named by its card's name.
        pricing: how the measured points are priced (checked before anything is measured).
        resume: the run directory to finish, or None for a new run.
        out: where a new run measures (None: a fresh folder under results/runs).
        ray_address: a Ray cluster to fan the suite out over, or None for this machine.
        watts_per_vcpu: the estimated meter's power per vCPU, where given.
        dry_run: plan the run and start nothing; `gpu_memory_gib` is then each GPU's memory, and `dry_run_gpu`
            the catalog's GPU planned for, where given.
        wide: print every column of the cost tables.
    """

    suite: Suite
    pricing: "Pricing"
    resume: Path | None
    out: Path | None
    ray_address: str | None
    watts_per_vcpu: float | None
    dry_run: bool
    gpu_memory_gib: float | None
    wide: bool
    dry_run_gpu: "HardwareEntry | None" = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "RunRequest":
        """The request the command line makes, once every flag and the suite they build have been checked."""
        given = {o.path: value for o in SUITE_OPTIONS if (value := getattr(args, o.flag.dest)) is not None}
        mode = given.get("mode") or ("serve" if any(p.startswith(SERVING_SETTINGS) for p in given) else None)
        _check_flags(args, given, mode)
        if mode is not None:
            given["mode"] = mode
        if args.resume and args.suite is None and not given:
            suite = RunDirectory(args.resume, resume=True).suite()  # its own settings; the sweep refuses others
        else:
            suite = with_flags(load_suite(args.suite), given)
        _check_kind_flags(given, suite.workload.kind)
        if "serve.capacity_load" in given and not suite.serve.capacity:
            raise UserError(
                "--capacity-load",
                "chooses the load a capacity search varies, and no capacity search was asked for",
                "add --capacity TIER (the tiers: tokencost tiers), or leave it out",
            )
        if args.trace:
            try:
                suite.workload.check_inputs()
            except UserError as e:
                raise e.with_field("--trace") from None
        if args.dry_run:
            suite.check()  # a dry run plans (and names) the arms a run would refuse
        else:
            suite.check_runnable()
        suite = _with_card_names(suite, "--models" if args.models else "models")
        pricing = pricing_from(args)  # checked before anything is measured
        _check_endpoint_gpu(suite, pricing)
        if suite.engine.executor == "ray" and args.ray_address is None and not args.dry_run:
            # vLLM's engine core would join (or start) some Ray cluster of its own, whose workers the run can
            # neither meter nor tell from foreign processes on its GPUs.
            raise UserError(
                "engine.executor",
                "'ray' runs vLLM's workers on a Ray cluster, and no --ray-address names one",
                "add --ray-address HOST:PORT, or use executor = 'default' on one machine",
            )
        if args.ray_address is not None:
            from bench.fleet.cluster import check_address, import_ray

            check_address(args.ray_address)
            import_ray()
        if args.resume and not args.dry_run:
            RunDirectory(args.resume, resume=True).check_measured_by(fleet=args.ray_address is not None)
        return cls(
            suite=suite,
            pricing=pricing,
            resume=args.resume,
            out=args.out,
            ray_address=args.ray_address,
            watts_per_vcpu=args.watts_per_vcpu,
            dry_run=args.dry_run,
            gpu_memory_gib=args.gpu_memory_gib,
            wide=args.wide,
            dry_run_gpu=_planned_gpu(args.gpu, pricing) if args.gpu is not None else None,
        )

    def directory(self) -> RunDirectory:
        """The run directory: the one resumed, or a new one (made by the sweep, once it has accepted the run)."""
        from bench.run.run import new_run_id

        if self.resume:
            return RunDirectory(self.resume, resume=True)
        return RunDirectory(self.out or DEFAULT_RESULTS_DIR / new_run_id())

    def measure(self, folder: RunDirectory) -> "SweepResult":
        """Measure the suite into `folder`: on this machine, or over the Ray cluster."""
        from bench.energy.meters import DEFAULT_WATTS_PER_VCPU

        stored = folder.watts_per_vcpu() if folder.resume else None
        options: dict[str, Any] = {
            "watts_per_vcpu": self.watts_per_vcpu or stored or DEFAULT_WATTS_PER_VCPU,
            "resume": folder.resume,
        }
        if self.ray_address is not None:
            from bench.fleet.sweep import run_fleet

            return run_fleet(self.suite, folder.path, address=self.ray_address, **options)
        if self.suite.mode == "serve":
            from bench.serve.sweep import run_serve_sweep

            return run_serve_sweep(self.suite, folder.path, **options)
        from bench.offline import run_sweep

        return run_sweep(self.suite, folder.path, **options)


def _planned_gpu(name: str, pricing: "Pricing") -> "HardwareEntry":
    """The catalog GPU a dry run plans for."""
    try:
        entry = find_hardware(name, pricing.catalog)
    except UserError as e:
        raise e.with_field("--gpu") from None
    if entry.key.startswith("cpu"):
        raise UserError("--gpu", f"{entry.key} is not a GPU", "give a GPU's catalog key, e.g. h100-sxm")
    return entry


def _check_flags(args: argparse.Namespace, given: dict[str, Any], mode: str | None) -> None:
    """Flags that are valid one by one but not together."""
    if mode == "offline" and any(path.startswith("serve.") for path in given):
        raise UserError("--mode", "is offline but serving options were given", "use --mode serve")
    if args.gpu_memory_gib is not None and not args.dry_run:
        raise UserError("--gpu-memory-gib", "only plans a dry run", "add --dry-run, or leave it out")
    if args.gpu is not None and not args.dry_run:
        raise UserError(
            "--gpu", "only plans a dry run (a run measures the GPUs it has)", "add --dry-run, or leave it out"
        )
    if args.gpu_memory_gib is not None and args.gpu_memory_gib > MAX_GPU_MEMORY_GIB:
        raise UserError(
            "--gpu-memory-gib",
            f"is {args.gpu_memory_gib:g}, more than any one GPU has",
            "give one GPU's memory in GiB, e.g. 79.6 for an H100 or 140.4 for an H200",
        )
    if "fleet.accelerators" in given and args.ray_address is None:
        raise UserError("--accelerators", "chooses the node types of a fleet sweep", "add --ray-address HOST:PORT")


def _check_kind_flags(given: dict[str, Any], kind: str) -> None:
    """A flag of one workload kind's settings (workload.<kind>.<setting>) given for a workload of another kind
    would be ignored: refuse it instead."""
    kind_flag = next(o.flag.name for o in SUITE_OPTIONS if o.path == "workload.kind")
    for option in SUITE_OPTIONS:
        table, _, setting = option.path.partition(".")
        section, _, _ = setting.partition(".")
        wanted = section.replace("_", "-")
        if option.path in given and table == "workload" and "." in setting and kind != wanted:
            flag = option.flag.name
            raise UserError(
                flag,
                f"sets the {wanted} workload, and this run's workload is {kind}",
                f"add {kind_flag} {wanted}, or leave {flag} out",
            )


def _with_card_names(suite: Suite, field: str) -> Suite:
    """The suite naming each model by its card's name, resolved once (bench.inputs.cards.load_card): points and
    records are keyed by card name, and the sweep, a resumed run and a report load the card by it again. Also
    refuses a max_model_len beyond a card's context before any engine is asked for it."""
    from bench.inputs.cards import named_card

    cards = [named_card(m, field) for m in suite.models]
    names = tuple(card.name for card in cards)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(field, f"names the card {twice[0]} more than once", "name each card once")
    max_len = suite.engine.max_model_len
    for card in cards:
        context = card.max_context
        if max_len and context and max_len > context:
            raise UserError(
                "engine.max_model_len",
                f"is {max_len}, beyond {card.name}'s context of {context} tokens",
                f"give at most {context}, or leave it out to use the model's context",
            )
    return suite if names == suite.models else suite.model_copy(update={"models": names})


def _check_endpoint_gpu(suite: Suite, pricing: "Pricing") -> None:
    """A remote endpoint's GPU must be priceable, or its measured points could not be reported."""
    from tokencost.pricing.catalog import find_hardware

    gpu = suite.serve.endpoint_accelerator
    if suite.mode == "serve" and gpu:
        try:
            find_hardware(gpu, pricing.catalog)
        except UserError:
            raise UserError(
                "--endpoint-gpu",
                f"{gpu!r} is not in the hardware catalog",
                "give a catalog key such as h100-sxm (see tokencost/data/hardware.toml), "
                "or its figures with --hardware FILE",
            ) from None
