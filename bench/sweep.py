"""The sweep runner: every model of a suite at every batch size, one record per point."""

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bench import environment, gpus, validity
from bench.cards import ModelCard, load_card
from bench.engines import engine_class
from bench.engines.vllm_offline import cpu_environment_defaults
from bench.errors import UserError, failure_kind
from bench.power import DEFAULT_WATTS_PER_VCPU, NvmlMeter, make_meter
from bench.progress import Progress
from bench.records import RECORDS_FILE, RecordWriter
from bench.secrets import redact
from bench.suite import Suite

WARMUP_OSL = 8
MEASURED, WARMUP, PREFILL_PROBE = 0, 1, 2  # prompt streams
IDLE_BASELINE_S = {"gpu": 5.0, "cpu": 2.0}
TIMELINE_FILE = "timeline.jsonl"


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname().split('.')[0]}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SweepResult:
    failures: list[dict] = field(default_factory=list)  # failed, skipped and interrupted points
    start_errors: list[UserError] = field(default_factory=list)  # engines that could not start


def point_key(model: str, engine: str, batch_size: int, workload) -> str:
    return f"{model}/{engine}/batch{batch_size}/isl{workload.isl}/osl{workload.osl}"


def hardware_fingerprint(hardware: dict) -> dict:
    """What must not change between a run and its resumption."""
    return {"accelerator": hardware.get("accelerator"), "accelerator_count": hardware.get("accelerator_count"),
            "gpus": [g.get("uuid") for g in hardware.get("gpus", [])]}


def completed_points(run_dir: Path) -> set[str]:
    from bench.records import read_records

    if not (run_dir / RECORDS_FILE).exists():
        return set()
    return {r["point"] for r in read_records(run_dir) if r.get("status") == "ok"}


class SweepRun:
    """One run directory being measured: cards, meter, records, failures and progress.

    `planned` maps every point key of the sweep to the fields its record carries
    even when the point fails (engine, load, mode) and a short label for logs.
    `with SweepRun(...) as run:` starts the meter, takes the idle baseline
    before any engine loads, and writes run.json. `meter` and `hardware` replace
    this machine's own (a remote endpoint is neither measured nor described here).
    """

    def __init__(self, suite: Suite, run_dir: Path, planned: dict[str, dict], *,
                 watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU, log: Callable[[str], None] = print,
                 resume: bool = False, meter=None, hardware: dict | None = None):
        self.suite, self.run_dir, self.planned, self.resume = suite, Path(run_dir), planned, resume
        self.cards = [load_card(name) for name in suite.models]  # bad input fails before any engine starts
        self.too_long = {}
        for card in self.cards:
            try:
                suite.workload.check_fits(suite.engine.max_model_len or card.max_context, card.name)
            except UserError as e:
                self.too_long[card.name] = e
        if len(self.too_long) == len(self.cards):
            raise next(iter(self.too_long.values()))  # nothing in the sweep can run

        cpu_environment_defaults()
        self.devices = gpus.serving_gpus() if hardware is None else []
        self.meter = meter or make_meter(self.devices, watts_per_vcpu)
        self.gpu_details = gpus.describe(self.devices)
        self.context = {
            "run_id": self.run_dir.name,
            "hardware": hardware or environment.hardware(self.gpu_details),
            "software": environment.software(),
        }
        self.done = completed_points(self.run_dir) if resume else set()
        self.progress = Progress(sum(key not in self.done for key in planned))
        self.log = self.progress.logging(log)
        self.writer = RecordWriter(self.run_dir)
        self.result = SweepResult()
        self.finished: set[str] = set()
        self.stop_reason: tuple[str, str] | None = None  # why the current model's remaining points are skipped
        self.idle_power_w = None

    def __enter__(self):
        self.meter.start()
        try:
            self.idle_power_w = self.meter.idle_baseline(IDLE_BASELINE_S.get(self.meter.boundary, 0.0))
            watts = self.idle_power_w if self.idle_power_w is not None else float("nan")
            self.log(f"idle baseline: {watts:.1f} W ({self.meter.method}, {self.meter.boundary})")
            _write_run_file(self.run_dir, self.context | {"suite": self.suite.to_record(),
                                                          "meter": self.meter.describe(),
                                                          "idle_power_w": self.idle_power_w}, self.resume)
        except BaseException:
            self.meter.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.meter.stop()

    def todo(self, keys: list[str]) -> list[str]:
        return [key for key in keys if key not in self.done]

    def start_model(self) -> None:
        self.stop_reason = None

    def fail(self, card: ModelCard, key: str, status: str, kind: str, error) -> None:
        message = str(error).strip().splitlines()[-1][:500] if str(error).strip() else type(error).__name__
        plan = self.planned[key]
        record = {
            "point": key, "status": status, "failure": kind,
            "error_class": type(error).__name__ if isinstance(error, BaseException) else "Skipped",
            "error": message, "finished_at": now(), "model": card.summary(),
            "workload": self.suite.workload.to_record(), **plan["fields"],
        }
        self.writer.append(self.context | record)
        self.result.failures.append(record)
        self.log(f"[{card.name}] {plan['label']}: {status} ({kind}): {message}")
        self.progress.finish(key, ok=False, status=status)

    def fail_all(self, card: ModelCard, keys: list[str], kind: str, error) -> None:
        for key in keys:
            self.fail(card, key, "failed", kind, error)

    def measure_point(self, card: ModelCard, key: str, measure: Callable[[], dict],
                      describe: Callable[[dict], str]) -> None:
        """Run `measure` for one point and append its record; a failure is recorded and the sweep goes on."""
        if self.stop_reason:
            self.fail(card, key, "skipped", *self.stop_reason)
            return
        label = self.planned[key]["label"]
        self.progress.start(key)
        try:
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
            return
        self.writer.append(self.context | record)
        self.finished.add(key)
        self.log(f"[{card.name}] {label}: {describe(record)}")
        self.progress.finish(key, ok=True)

    def validity(self, whole, start, end, *, other_processes_matter: bool = True, extra: dict | None = None) -> dict:
        return validity.check(
            whole,
            self.samples(start.t, end.t),
            idle_power_w=self.idle_power_w,
            power_limit_w=sum(g.get("power_limit_w") or 0 for g in self.gpu_details) or None,
            min_window_s=self.suite.min_window_s,
            other_processes=gpus.other_processes(self.devices, _own_pids())
            if self.devices and other_processes_matter else [],
            extra=extra,
        )

    def samples(self, t0: float, t1: float) -> list:
        return self.meter.sampler.between(t0, t1) if isinstance(self.meter, NvmlMeter) else []

    def add_timeline(self, record: dict, key: str, start, end) -> None:
        """Save the point's power samples (NVML only) and point the record at them."""
        if isinstance(self.meter, NvmlMeter):
            self.meter.sampler.save(self.run_dir / TIMELINE_FILE, key, start.t, end.t)
            record["timeline"] = {"file": TIMELINE_FILE, "point": key}


def run_sweep(suite: Suite, run_dir: Path, **options) -> SweepResult:
    """Measure every point of the suite not measured yet, appending each record as it completes.

    A point that fails (out of memory, timeout, engine error) is recorded as
    failed and the sweep goes on; after an out-of-memory error the larger
    batches of that model are skipped, after an engine death the rest of
    that model. An engine that cannot start fails that model's points. Ctrl-C
    or SIGTERM records the current point as interrupted and ends engines
    before the KeyboardInterrupt goes on. Options: see `SweepRun`.
    """
    planned = {
        point_key(model, engine, b, suite.workload): {
            "label": f"{engine} batch {b}", "fields": {"engine": {"name": engine, "batch_size": b}}}
        for engine in suite.engines for model in suite.models for b in suite.batch_sizes
    }
    with SweepRun(suite, run_dir, planned, **options) as run:
        point = PointMeasurement(run)
        for engine_name in suite.engines:
            for card in run.cards:
                keys = run.todo([point_key(card.name, engine_name, b, suite.workload) for b in suite.batch_sizes])
                if not keys:
                    continue
                if card.name in run.too_long:
                    run.fail_all(card, keys, "context-exceeded", run.too_long[card.name])
                    continue
                run.log(f"[{card.name}] starting {engine_name} (max batch {max(suite.batch_sizes)})")
                try:
                    engine = _start_engine(engine_class(engine_name), card, suite)
                except UserError as e:
                    run.fail_all(card, keys, "engine-start", e)
                    run.result.start_errors.append(e)
                    continue
                try:
                    run.start_model()
                    for key in keys:
                        batch_size = run.planned[key]["fields"]["engine"]["batch_size"]
                        run.measure_point(card, key, partial(point.measure, engine, card, batch_size), _describe)
                finally:
                    engine.close()
    return run.result


def _describe(record: dict) -> str:
    energy = record["energy"]
    return f"{record['output_tok_s']:.1f} output tok/s, {energy['avg_power_w'] or float('nan'):.1f} W ({energy['method']})"


def _write_run_file(run_dir: Path, run: dict, resume: bool) -> None:
    path = run_dir / "run.json"
    if resume and path.exists():
        previous = json.loads(path.read_text())
        previous.setdefault("resumed_at", []).append(now())
        run = previous
    else:
        run = {"started_at": now(), **run}
    path.write_text(redact(json.dumps(run, indent=2)))


def _start_engine(engine_factory: Callable, card: ModelCard, suite: Suite):
    try:
        return engine_factory(card, max(suite.batch_sizes), suite.engine)
    except UserError:
        raise
    except Exception as e:  # vLLM raises many kinds; the user needs the gist and a fix
        gist = (str(e).strip().splitlines() or [type(e).__name__])[-1][:300]
        raise UserError(
            f"model {card.name}",
            f"the engine could not start ({type(e).__name__}: {gist})",
            "check the card's config.json and the [engine] settings; the engine log above has details",
        ) from e


class Window:
    """Takes meter snapshots when the engine opens and closes the steady-state window."""

    def __init__(self, meter):
        self.meter = meter
        self.start = self.end = None

    def open(self) -> None:
        self.start = self.meter.snapshot()

    def close(self) -> None:
        self.end = self.meter.snapshot()


class PointMeasurement:
    """Measures one offline sweep point: warm-up, measured window(s), prefill probe, checks."""

    def __init__(self, run: SweepRun):
        self.run, self.suite, self.meter = run, run.suite, run.meter

    def measure(self, engine, card: ModelCard, batch_size: int) -> dict:
        workload = self.suite.workload
        num_requests = workload.num_requests(batch_size)
        prompts = workload.prompts(num_requests, card.vocab_size, MEASURED)
        label = point_key(card.name, engine.name, batch_size, workload)
        if self.suite.warmup:
            # Same batch shape, few tokens: compiles and caches what this point needs.
            engine.generate(workload.prompts(batch_size, card.vocab_size, WARMUP), WARMUP_OSL, batch_size)

        started_at = now()
        window = Window(self.meter)
        whole_start = self.meter.snapshot()
        result = engine.generate(prompts, workload.osl, batch_size, window, timeout_s=self.suite.point_timeout_s)
        whole_end = self.meter.snapshot()
        whole = self.meter.reading(whole_start, whole_end)
        whole.flags.append("whole-point window: includes batch fill and drain")

        record = {
            "point": label,
            "status": "ok",
            "started_at": started_at,
            "finished_at": now(),
            "model": card.summary(),
            "workload": workload.to_record(),
            "engine": engine.describe() | {"batch_size": batch_size},
            "num_requests": result.num_requests,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "duration_s": result.duration_s,
            "output_tok_s": result.output_tokens / result.duration_s,
            "total_tok_s": (result.input_tokens + result.output_tokens) / result.duration_s,
            "requests_per_s": result.num_requests / result.duration_s,
            "throughput_window": "whole point: first request sent to last request finished",
            "energy": whole.to_record() | {"idle_power_w": self.run.idle_power_w},
            "steady_state": steady_state(self.meter, window, result.steady_duration_s, result.steady_output_tokens,
                                         "the batch never filled with work still queued "
                                         "(raise requests_per_batch above 1)"),
            "validity": self.run.validity(whole, whole_start, whole_end),
        }
        self.run.add_timeline(record, label, whole_start, whole_end)
        if self.suite.prefill_probe:
            # The same number of fresh prompts with one output token each: prefill only.
            probe = engine.generate(workload.prompts(num_requests, card.vocab_size, PREFILL_PROBE), 1, batch_size)
            record["prefill_probe"] = {
                "osl": 1,
                "duration_s": probe.duration_s,
                "input_tokens": probe.input_tokens,
                "output_tokens": probe.output_tokens,
                "note": "same batch size and ISL, one output token per request, after the measured window",
            }
        return record


def steady_state(meter, window: Window, duration_s: float, output_tokens: int, why_not: str) -> dict:
    """The steady-state window's throughput and energy, or why it was not reached."""
    if not (window.start and window.end and duration_s > 0):
        return {"reached": False, "why": why_not}
    energy = meter.reading(window.start, window.end)
    return {
        "reached": True,
        "duration_s": duration_s,
        "output_tokens": output_tokens,
        "output_tok_s": output_tokens / duration_s,
        "energy": energy.to_record(),
        "j_per_output_token": energy.energy_j / output_tokens if energy.energy_j and output_tokens else None,
    }


def _own_pids() -> set[int]:
    """This process and its children (vLLM's engine and workers)."""
    import psutil

    me = psutil.Process()
    return {me.pid, *(c.pid for c in me.children(recursive=True))}
