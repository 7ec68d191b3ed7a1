"""One run being measured: its cards, meter, records, failures and progress (its folder: bench.run.run_dir).

Both sweeps (offline and serving) plan their points, then hand each point's
measurement to `SweepRun.measure_point`, which appends its record, or records
the failure and decides whether the model's remaining points can still run.
"""

import logging
import math
import os
import socket
import textwrap
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import environment, memory_bandwidth
from bench.energy import checks, gpus, processes
from bench.energy.meters import DEFAULT_WATTS_PER_VCPU, EnergyReading, Meter, make_meter
from bench.errors import UserError, failure_kind
from bench.inputs import fit
from bench.inputs.cards import ModelCard, load_card
from bench.inputs.precision import BF16, Precision
from bench.inputs.suite import Suite
from bench.inputs.workload import Workload
from bench.run.point import PointWindows, now
from bench.run.progress import Progress
from bench.run.record import HardwareInfo, PointRecord, SoftwareInfo, Validity
from bench.run.records import RecordWriter
from bench.run.run_dir import RunDirectory
from bench.secrets import redact

logger = logging.getLogger(__name__)

IDLE_BASELINE_S = {"gpu": 5.0, "cpu": 2.0}
BANDWIDTH_FIELDS = (
    "memory_bandwidth_gb_s",
    "cache_bandwidth_gb_s",
    "llc_bytes",
    "bandwidth_threads",
    "bandwidth_method",
)


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname().split('.')[0]}"


@dataclass(frozen=True)
class PlannedPoint:
    """A point of the sweep: its key, a label for logs, and the record fields it has even if it fails."""

    key: str
    label: str
    fields: dict[
        str, Any
    ]  # PointRecord fields: mode, engine, and the coordinate (batch_size, concurrency, request_rate)
    model: str = ""
    in_flight: int | None = None  # sequences the engine holds at once, where the load fixes it
    workload: Workload | None = None  # the suite's main workload where None
    precision: Precision = BF16  # the arm of the precision axis its engine runs

    @property
    def engine(self) -> tuple[str, str]:
        """The engine that measures it, started once for all its points: (model, engine name and precision)."""
        return self.model, self.fields["engine"]["name"] + self.precision.key_suffix()


@dataclass
class SweepResult:
    failures: list[PointRecord] = field(default_factory=list)  # failed, skipped and interrupted points
    start_errors: list[UserError] = field(default_factory=list)  # engines that could not start


def hardware_fingerprint(hardware: dict[str, Any]) -> dict[str, Any]:
    """What must not change between a run and its resumption."""
    return {
        "accelerator": hardware.get("accelerator"),
        "accelerator_count": hardware.get("accelerator_count"),
        "gpus": [g.get("uuid") for g in hardware.get("gpus", [])],
    }


def host_memory_bandwidth(previous: dict[str, Any] | None) -> dict[str, Any]:
    """This machine's host-memory bandwidth with the run's threads, as run.json and every record's hardware hold
    it: measured once per run, before any engine starts; a resumed run keeps the figures its run.json holds."""
    stored = (previous or {}).get("hardware") or {}
    if stored.get("memory_bandwidth_gb_s") is not None:
        return {k: stored.get(k) for k in BANDWIDTH_FIELDS}
    found = memory_bandwidth.measure()
    busy = found.busy()
    for text in (f"memory bandwidth: {found.summary()}", *([f"WARNING: {busy}"] if busy else [])):
        for line in textwrap.wrap(text, 120, subsequent_indent="  "):
            logger.info(line)
    return found.record_fields()


def describe_point(record: PointRecord) -> str:
    """One log line for a measured point."""
    energy = record.energy
    assert energy is not None  # a measured point has its energy, and a serving one its latencies
    power = f"{energy.avg_power_w or float('nan'):.1f} W ({energy.method})"
    if record.mode == "serve":
        assert record.latency_ms is not None
        return (
            f"{record.output_tok_s:.1f} output tok/s, TTFT p50 {record.latency_ms.ttft.median:.0f} ms, "
            f"{record.interactivity_tok_s_user or float('nan'):.1f} tok/s/user, {power}"
        )
    return f"{record.output_tok_s:.1f} output tok/s, {power}"


class SweepRun:
    """One run directory being measured.

    `with SweepRun(...) as run:` starts the meter, takes the idle baseline
    before any engine loads, and writes run.json. With `resume`, the run
    directory's run.json must describe the same suite, machine and meter
    setting, and points already measured are skipped. `meter` and `hardware`
    replace this machine's own (a remote endpoint is neither measured nor
    described here). A fleet sweep's group (bench.fleet) measures into a run
    directory of its node: `sink` gets each record once it is on disk there,
    and `earlier` holds the ok records of the fleet's run, which count as done.
    """

    def __init__(
        self,
        suite: Suite,
        run_dir: Path,
        planned: list[PlannedPoint],
        *,
        watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU,
        resume: bool = False,
        meter: Meter | None = None,
        hardware: dict[str, Any] | None = None,
        sink: Callable[[PointRecord], None] | None = None,
        earlier: tuple[PointRecord, ...] = (),
    ) -> None:
        self.suite, self.run_dir, self.resume = suite, Path(run_dir), resume
        self.planned = {p.key: p for p in planned}
        suite.check_runnable()
        self.cards = [load_card(name) for name in suite.models]  # bad input fails before any engine starts
        self.too_long: dict[tuple[str, str], UserError] = {}  # (card, workload key) -> why it cannot run
        for card in self.cards:
            for workload in suite.workloads:
                try:
                    workload.check_fits(suite.engine.max_model_len or card.max_context, card.name)
                except UserError as e:
                    self.too_long[card.name, workload.key()] = e
        main = [self.too_long.get((card.name, suite.workload.key())) for card in self.cards]
        if all(main) and main[0] is not None:
            raise main[0]  # the workload asked for fits no model of the sweep
        self.folder = RunDirectory(self.run_dir, resume=resume)
        previous = self.folder.resumed_run(suite, fleet=False, watts_per_vcpu=watts_per_vcpu) if resume else None
        if not resume:
            self.folder.check_new()
        self.folder.create()

        environment.cpu_environment_defaults()
        gpu_set = self._engine_gpus() if hardware is None else gpus.GpuSet([], [])
        self.devices = gpu_set.engine
        self.meter = meter or make_meter(self.devices, watts_per_vcpu)
        # Given hardware (a multi-node engine's) describes GPUs this process cannot open itself.
        self.gpu_details = gpus.describe(self.devices) if hardware is None else hardware.get("gpus", [])
        self.hardware = hardware or environment.hardware(self.gpu_details, gpus.describe(gpu_set.idle))
        if hardware is None:  # this machine: its host memory's bandwidth, before any engine starts
            self.hardware |= host_memory_bandwidth(previous)
        # An existing endpoint was started by someone else, with settings the estimate does not know.
        memory = None if suite.mode == "serve" and suite.serve.endpoint else gpus.memory_bytes(self.devices)
        # Estimated per card, workload and precision, at each workload's mean context (bench.inputs.fit).
        self.fits = (
            {
                (card.name, w.key(), precision): fit.estimate(card, suite.engine_for(precision), context_of(w), memory)
                for card in self.cards
                for w in suite.workloads
                for precision in suite.precisions
            }
            if memory
            else {}
        )
        if previous is not None:
            self._check_same_machine(previous)
        self.context: dict[str, Any] = {
            "run_id": self.run_dir.name,
            "hardware": HardwareInfo(**self.hardware),
            "software": SoftwareInfo(**environment.software()),
        }
        # First, so that a torn last line (a crash mid-write) is set aside before the records are read or appended to.
        self.writer = RecordWriter(self.run_dir)
        # Ok records by key, this session's and (resumed) earlier ones': a capacity search judges loads by them.
        self.records = {r.point: r for r in self.folder.ok_records()} if resume else {}
        self.records |= {r.point: r for r in earlier if r.ok}
        self.sink = sink
        self.done = set(self.records)
        self.progress = Progress(sum(key not in self.done for key in self.planned), engines_left=self.engines_left)
        self.log = self.progress.logging(logger.info)  # the sweep's lines, around the status line
        self.result = SweepResult()
        self.finished: set[str] = set()
        self.engine_running: tuple[str, str] | None = None  # the engine started last (PlannedPoint.engine)
        self.stop_reason: tuple[str, str] | None = None  # why the current model's remaining points are skipped
        self.idle_power_w: float | None = None
        self.loaded_idle_power_w: float | None = None  # the current model's engine loaded, no requests

    def _engine_gpus(self) -> gpus.GpuSet:
        """The GPUs the suite's engine will use (for an existing local endpoint: as [engine] describes its server)."""
        if not gpus.all_gpus():
            return gpus.GpuSet([], [])
        environment.gpu_environment_defaults()
        chosen = gpus.engine_gpus(self.suite.engine.gpus)
        if full := gpus.with_full_uuids(os.environ):  # the same GPUs, named so that vLLM can look them up
            os.environ["CUDA_VISIBLE_DEVICES"] = full
        return chosen

    def _check_same_machine(self, previous: dict[str, Any]) -> None:
        here = hardware_fingerprint(self.hardware)
        there = hardware_fingerprint(previous.get("hardware") or {})
        if here != there:
            raise UserError(
                "--resume",
                f"this machine ({here['accelerator']} x {here['accelerator_count']}) is not "
                f"the run's ({there['accelerator']} x {there['accelerator_count']})",
                "resume on the machine and GPUs that started the run",
            )

    def __enter__(self) -> "SweepRun":
        self.meter.start()
        try:
            self.idle_power_w = self.meter.idle_baseline(IDLE_BASELINE_S.get(self.meter.boundary, 0.0))
            watts = self.idle_power_w if self.idle_power_w is not None else float("nan")
            self.log(f"idle baseline: {watts:.1f} W ({self.meter.method}, {self.meter.boundary})")
            for note in pair_notes(self.suite, self.cards):
                self.log(note)
            self._write_run_file()
        except BaseException:
            self.meter.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.meter.stop()

    def _write_run_file(self) -> None:
        if self.resume:
            bandwidth = {key: self.hardware[key] for key in BANDWIDTH_FIELDS if key in self.hardware}
            self.folder.note_resumed(now(), hardware=bandwidth)
            return
        self.folder.start(
            {
                "started_at": now(),
                "run_id": self.folder.run_id,
                "hardware": self.hardware,
                "software": self.context["software"].model_dump(),
                "suite": self.suite.to_record(),
                "meter": self.meter.describe(),
                "idle_power_w": self.idle_power_w,
            }
        )

    def engines_left(self) -> int:
        """Engines the sweep has still to start: one for each engine with a point neither measured nor failed,
        the one started last left out; none against an existing endpoint, which nothing starts."""
        if self.suite.mode == "serve" and self.suite.serve.endpoint:
            return 0
        settled = self.done | self.finished | {r.point for r in self.result.failures}
        return len({p.engine for key, p in self.planned.items() if key not in settled} - {self.engine_running})

    @contextmanager
    def engine_start(self, card: ModelCard, engine_name: str) -> Iterator[None]:
        """Around an engine's start: its time counts toward the ETA of the engines still to start (a start that
        fails does not count)."""
        self.engine_running = (card.name, engine_name)
        self.progress.engine_starting(f"{engine_name} for {card.name}")
        yield
        self.progress.engine_started()

    def misplaced_workers(self, engine: object) -> str | None:
        """For an engine over several nodes: why its workers do not run on exactly the metered GPUs (None when
        they do). The offline engine says where its workers are; a server's are found through Ray's state API
        and the node meters (bench.energy.engine_workers). One machine's engine runs on its metered GPUs."""
        if not self.hardware.get("nodes"):
            return None
        from bench.energy import engine_workers as workers
        from bench.energy.cluster_meter import ClusterMeter

        worker_gpus = getattr(engine, "worker_gpus", None)
        if worker_gpus is not None:
            found = worker_gpus()
        elif isinstance(self.meter, ClusterMeter):
            import ray

            try:
                found = workers.serving_workers(ray, self.meter.pids_on_metered_gpus())
            except Exception as e:  # the state API needs Ray's dashboard; unverified is not measured
                return f"vLLM's workers could not be found ({type(e).__name__}: {str(e).strip()[:200]})"
        else:
            return None
        return workers.mismatch(self.gpu_details, found)

    def unfit(self, card: ModelCard, workload: Workload) -> UserError | None:
        """Why the workload's longest request cannot run on the card's context; None if it can."""
        return self.too_long.get((card.name, workload.key()))

    def workload_of(self, key: str) -> Workload:
        return self.planned[key].workload or self.suite.workload

    def plan_point(self, point: PlannedPoint) -> None:
        """A point planned while the run goes (a capacity search's next load)."""
        if point.key not in self.planned:
            self.planned[point.key] = point
            if point.key not in self.done:
                self.progress.total += 1

    def todo(self, keys: list[str]) -> list[str]:
        return [key for key in keys if key not in self.done]

    def point_windows(self) -> PointWindows:
        return PointWindows(self)

    def record(self, card: ModelCard, key: str, status: str, **fields: Any) -> PointRecord:
        """A record of one planned point: the run's context, the point's planned fields, then `fields`."""
        return planned_record(self.context, self.suite, card, self.planned[key], status, **fields)

    def start_model(self) -> None:
        self.stop_reason = None
        self.loaded_idle_power_w = None

    def measure_loaded_idle(self, card: ModelCard) -> None:
        """Idle power with the model's engine loaded: what an idle deployment draws, for pricing idle hours."""
        self.loaded_idle_power_w = self.meter.idle_baseline(IDLE_BASELINE_S.get(self.meter.boundary, 0.0))
        watts = self.loaded_idle_power_w if self.loaded_idle_power_w is not None else float("nan")
        self.log(f"[{card.name}] idle with the engine loaded: {watts:.1f} W")

    def fitting(self, card: ModelCard, keys: list[str]) -> list[int]:
        """The batch sizes of the points that the estimate lets the card's engine hold (all without an estimate)."""

        def fits(key: str) -> bool:
            estimate = self._fit_of(card, key)
            batch = self._in_flight(key)
            return not estimate or not estimate.why_not(fit.in_flight_per_replica(batch, self.suite.engine))

        return [self._in_flight(k) for k in keys if fits(k)] or [self._in_flight(k) for k in keys]

    def _fit_of(self, card: ModelCard, key: str) -> fit.Fit | None:
        """The estimate of a point's engine (its card, workload and precision); None without GPU memory."""
        return self.fits.get((card.name, self.workload_of(key).key(), self.planned[key].precision))

    def _in_flight(self, key: str) -> int:
        """The sequences a point's engine holds at once, for a point whose load fixes them (a batch size)."""
        sequences = self.planned[key].in_flight
        assert sequences is not None, f"{key} has no fixed number of sequences in flight"
        return sequences

    def skip_beyond_kv_capacity(self, card: ModelCard, engine: object, in_flight: dict[str, int]) -> list[str]:
        """The points a started engine's (or server's) real KV cache holds; the others are recorded as skipped."""
        blocks = getattr(engine, "kv_cache_blocks", None)
        if not blocks:
            return list(in_flight)  # no paged KV cache (transformers), or a server that does not say
        num_blocks, block_size = blocks
        return self.skip_what_cannot_fit(card, in_flight, (num_blocks, block_size))

    def skip_what_cannot_fit(
        self, card: ModelCard, in_flight: dict[str, int], blocks: tuple[int, int] | None = None
    ) -> list[str]:
        """Record as skipped the points whose sequences in flight cannot fit; return the keys that can run.

        `in_flight` maps a point to the sequences the engine holds at once (data
        parallel replicas share them). With `blocks` (one started replica's KV
        cache: blocks, tokens a block) the sequences of the point's workload it
        holds decide; without, the estimate made from the GPUs' memory; without
        either, every point runs.
        """
        runnable = []
        for key, sequences in in_flight.items():
            per_replica = fit.in_flight_per_replica(sequences, self.suite.engine)
            workload = self.workload_of(key)
            estimate = self._fit_of(card, key)
            if blocks is not None:
                context = context_of(workload)
                capacity = fit.sequences_in_blocks(*blocks, context)
                reason = (
                    None
                    if per_replica <= capacity
                    else (
                        f"{per_replica} sequences in flight would preempt: vLLM's KV cache holds {capacity} sequences of "
                        f"{context} tokens ({blocks[0]} blocks of {blocks[1]} tokens)"
                    )
                )
            else:
                reason = estimate.why_not(per_replica) if estimate else None
                reason = reason and f"estimated before starting: {reason}"
            if reason:
                self.fail(card, key, "skipped", "does-not-fit", reason)
            else:
                runnable.append(key)
        return runnable

    def fail(self, card: ModelCard, key: str, status: str, kind: str, error: BaseException | str) -> None:
        text = redact(str(error)).strip()  # an engine's or server's message may quote a key or a URL password
        message = text.splitlines()[-1][:500] if text else type(error).__name__
        record = self.record(
            card,
            key,
            status,
            failure=kind,
            finished_at=now(),
            error=message,
            error_class=type(error).__name__ if isinstance(error, BaseException) else "Skipped",
        )
        self._keep(record)
        self.result.failures.append(record)
        self.log(f"[{card.name}] {self.planned[key].label}: {status} ({kind}): {message}")
        self.progress.finish(key, ok=False, status=status)

    def _keep(self, record: PointRecord) -> None:
        self.writer.append(record)
        if self.sink:
            self.sink(record)

    def fail_all(self, card: ModelCard, keys: list[str], kind: str, error: BaseException | str) -> None:
        for key in keys:
            self.fail(card, key, "failed", kind, error)

    def measure_point(self, card: ModelCard, key: str, measure: Callable[[], PointRecord]) -> None:
        """Run `measure` for one point and append its record; a failure is recorded and the sweep goes on."""
        if self.stop_reason:
            self.fail(card, key, "skipped", *self.stop_reason)
            return
        label = self.planned[key].label
        try:
            self.progress.start(key)
            record = measure()
        except KeyboardInterrupt:
            self.fail(card, key, "interrupted", "interrupted", "stopped by Ctrl-C or SIGTERM")
            raise
        except Exception as e:  # a point's failure is recorded; the sweep goes on where that makes sense
            kind = failure_kind(e)
            self.fail(card, key, "failed", kind, e)
            if kind == "out-of-memory":
                self.stop_reason = (kind, f"skipped: {label} ran out of memory")
            elif kind == "engine-died":
                self.stop_reason = (kind, f"skipped: the engine died at {label}")
            elif kind == "engine-hung":
                self.stop_reason = (kind, f"skipped: the engine hung at {label} and was ended")
            return
        self._keep(record)
        self.records[key] = record
        self.finished.add(key)
        self.log(f"[{card.name}] {label}: {describe_point(record)}")
        self.progress.finish(key, ok=True)

    def checks_for(
        self,
        whole: EnergyReading,
        t0: float,
        t1: float,
        *,
        other_processes_matter: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> Validity:
        """The validity checks of a point's whole-point reading over [t0, t1]."""
        return Validity.of(
            checks.check(
                whole,
                self.meter.samples(t0, t1),
                idle_power_w=self.idle_power_w,
                power_limit_w=sum(g.get("power_limit_w") or 0 for g in self.gpu_details) or None,
                min_window_s=self.suite.min_window_s,
                other_processes=processes.other_processes(self.devices, _own_pids())
                if self.devices and other_processes_matter
                else None,
                extra=extra,
            )
        )


def planned_record(
    context: dict[str, Any], suite: Suite, card: ModelCard, point: PlannedPoint, status: str, **fields: Any
) -> PointRecord:
    """A record of a planned point: the run's context (run_id, hardware, software), the point's planned fields,
    then `fields`."""
    model = card.summary() | {"pairs_with": suite.pair_of(card.name, card.pairs_with)}
    base = context | {
        "point": point.key,
        "status": status,
        "model": model,
        "workload": (point.workload or suite.workload).to_record(),
    }
    record = base | point.fields | fields
    effective = (record.get("engine") or {}).get("effective") or {}
    if record.get("precision") and effective:  # what the started engine reports it ran, beside what was asked
        record["precision"] = record["precision"] | {
            "engine_quantization": effective.get("quantization"),
            "engine_kv_cache_dtype": effective.get("kv_cache_dtype"),
            **({"checkpoint": record["engine"]["checkpoint"]} if record["engine"].get("checkpoint") else {}),
        }
    return PointRecord(**record)


def context_of(workload: Workload) -> int:
    """Tokens a sequence of the workload holds in the KV cache: its prompt and output (at the mean, where
    lengths vary), which decides how many sequences fit."""
    isl, osl = workload.mean_lengths()
    return math.ceil(isl + osl)


def pair_notes(suite: Suite, cards: Collection[ModelCard]) -> list[str]:
    """One line per MoE model of the suite: the dense model it is compared with, or why there is none."""
    names = {c.name for c in cards}
    notes = []
    for card in cards:
        if card.kind != "moe":
            continue
        dense = suite.pair_of(card.name, card.pairs_with)
        if dense in names:
            notes.append(f"pair: {card.name} (MoE) vs {dense} (dense)")
        else:
            notes.append(
                f"pair: {card.name} (MoE) has no dense model in this suite"
                + (f" ({dense} is not in it)" if dense else "")
                + ": no dense-vs-MoE comparison"
            )
    return notes


def _own_pids() -> set[int]:
    """This process and its children (vLLM's engine and workers)."""
    me = psutil.Process()
    return {me.pid, *(c.pid for c in me.children(recursive=True))}
