"""The sweep runner: every model of a suite at every batch size, one record per point."""

import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bench import environment
from bench.cards import ModelCard, load_card
from bench.engines import engine_class
from bench.engines.vllm_offline import cpu_environment_defaults
from bench.errors import UserError, failure_kind
from bench import gpus, validity
from bench.power import DEFAULT_WATTS_PER_VCPU, NvmlMeter, make_meter
from bench.records import RECORDS_FILE, RecordWriter
from bench.secrets import redact
from bench.suite import Suite

WARMUP_OSL = 8
MEASURED, WARMUP, PREFILL_PROBE = 0, 1, 2  # prompt streams
IDLE_BASELINE_S = {"gpu": 5.0, "cpu": 2.0}
TIMELINE_FILE = "timeline.jsonl"


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname().split('.')[0]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


def run_sweep(
    suite: Suite,
    run_dir: Path,
    *,
    watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU,
    log: Callable[[str], None] = print,
    resume: bool = False,
) -> SweepResult:
    """Measure every point of the suite not measured yet, appending each record as it completes.

    A point that fails (out of memory, timeout, engine error) is recorded as
    failed and the sweep goes on; after an out-of-memory error the larger
    batches of that model are skipped, after an engine death the rest of
    that model. An engine that cannot start fails that model's points. Ctrl-C
    or SIGTERM records the current point as interrupted and ends engines
    before the KeyboardInterrupt goes on.
    """
    cards = [load_card(name) for name in suite.models]  # bad input fails before any engine starts
    too_long = {}
    for card in cards:
        try:
            suite.workload.check_fits(suite.engine.max_model_len or card.max_context, card.name)
        except UserError as e:
            too_long[card.name] = e
    if len(too_long) == len(cards):
        raise next(iter(too_long.values()))  # nothing in the sweep can run

    cpu_environment_defaults()
    devices = gpus.serving_gpus()
    meter = make_meter(devices, watts_per_vcpu)
    gpu_details = gpus.describe(devices)
    context = {
        "run_id": run_dir.name,
        "hardware": environment.hardware(gpu_details),
        "software": environment.software(),
    }
    done = completed_points(run_dir) if resume else set()
    writer = RecordWriter(run_dir)
    result = SweepResult()

    def fail(card: ModelCard, engine: str, batch_size: int, status: str, kind: str, error) -> None:
        message = str(error).strip().splitlines()[-1][:500] if str(error).strip() else type(error).__name__
        record = {
            "point": point_key(card.name, engine, batch_size, suite.workload), "status": status, "failure": kind,
            "error_class": type(error).__name__ if isinstance(error, BaseException) else "Skipped",
            "error": message, "finished_at": _now(), "model": card.summary(),
            "workload": suite.workload.to_record(), "engine": {"name": engine, "batch_size": batch_size},
        }
        writer.append(context | record)
        result.failures.append(record)
        log(f"[{card.name}] batch {batch_size}: {status} ({kind}): {message}")

    meter.start()
    try:
        idle_w = meter.idle_baseline(IDLE_BASELINE_S[meter.boundary])  # before any engine loads
        log(f"idle baseline: {idle_w if idle_w is not None else float('nan'):.1f} W ({meter.method}, {meter.boundary})")
        _write_run_file(run_dir, context | {"suite": suite.to_record(), "meter": meter.describe(),
                                            "idle_power_w": idle_w}, resume)
        point = PointMeasurement(suite, meter, idle_w, devices, gpu_details, run_dir / TIMELINE_FILE)
        for engine_name in suite.engines:
            for card in cards:
                todo = [b for b in suite.batch_sizes if point_key(card.name, engine_name, b, suite.workload) not in done]
                if not todo:
                    continue
                if card.name in too_long:
                    for b in todo:
                        fail(card, engine_name, b, "failed", "context-exceeded", too_long[card.name])
                    continue
                log(f"[{card.name}] starting {engine_name} (max batch {max(suite.batch_sizes)})")
                try:
                    engine = _start_engine(engine_class(engine_name), card, suite)
                except UserError as e:
                    for b in todo:
                        fail(card, engine_name, b, "failed", "engine-start", e)
                    result.start_errors.append(e)
                    continue
                try:
                    _measure_model(engine, card, todo, point, writer, context, result, fail, log)
                finally:
                    engine.close()
    finally:
        meter.stop()
    return result


def _measure_model(engine, card, todo, point, writer, context, result, fail, log) -> None:
    stop_reason = None
    for batch_size in todo:
        if stop_reason:
            fail(card, engine.name, batch_size, "skipped", stop_reason[0], stop_reason[1])
            continue
        try:
            record = point.measure(engine, card, batch_size)
        except KeyboardInterrupt:
            fail(card, engine.name, batch_size, "interrupted", "interrupted", "stopped by Ctrl-C or SIGTERM")
            raise
        except Exception as e:  # a point's failure is recorded; the sweep goes on where that makes sense
            kind = failure_kind(e)
            fail(card, engine.name, batch_size, "failed", kind, e)
            if kind == "out-of-memory":
                stop_reason = (kind, f"skipped: batch {batch_size} ran out of memory")
            elif kind == "engine-died":
                stop_reason = (kind, f"skipped: the engine died at batch {batch_size}")
            continue
        writer.append(context | record)
        log(
            f"[{card.name}] {engine.name} batch {batch_size}: {record['output_tok_s']:.1f} output tok/s, "
            f"{record['energy']['avg_power_w'] or float('nan'):.1f} W ({record['energy']['method']})"
        )


def _write_run_file(run_dir: Path, run: dict, resume: bool) -> None:
    path = run_dir / "run.json"
    if resume and path.exists():
        previous = json.loads(path.read_text())
        previous.setdefault("resumed_at", []).append(_now())
        run = previous
    else:
        run = {"started_at": _now(), **run}
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


class _Window:
    """Takes meter snapshots when the engine opens and closes the steady-state window."""

    def __init__(self, meter):
        self.meter = meter
        self.start = self.end = None

    def open(self) -> None:
        self.start = self.meter.snapshot()

    def close(self) -> None:
        self.end = self.meter.snapshot()


@dataclass
class PointMeasurement:
    """Measures one sweep point: warm-up, measured window(s), prefill probe, checks."""

    suite: Suite
    meter: object
    idle_power_w: float | None
    devices: list
    gpu_details: list[dict]
    timeline_path: Path

    def measure(self, engine, card: ModelCard, batch_size: int) -> dict:
        workload = self.suite.workload
        num_requests = workload.num_requests(batch_size)
        prompts = workload.prompts(num_requests, card.vocab_size, MEASURED)
        label = point_key(card.name, engine.name, batch_size, workload)
        if self.suite.warmup:
            # Same batch shape, few tokens: compiles and caches what this point needs.
            engine.generate(workload.prompts(batch_size, card.vocab_size, WARMUP), WARMUP_OSL, batch_size)

        started_at = _now()
        window = _Window(self.meter)
        whole_start = self.meter.snapshot()
        result = engine.generate(prompts, workload.osl, batch_size, window, timeout_s=self.suite.point_timeout_s)
        whole_end = self.meter.snapshot()
        whole = self.meter.reading(whole_start, whole_end)
        whole.flags.append("whole-point window: includes batch fill and drain")
        whole_dict = whole.to_record() | {"idle_power_w": self.idle_power_w}

        record = {
            "point": label,
            "status": "ok",
            "started_at": started_at,
            "finished_at": _now(),
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
            "energy": whole_dict,
            "steady_state": self._steady(result, window),
            "validity": validity.check(
                whole,
                self._samples(whole_start.t, whole_end.t),
                idle_power_w=self.idle_power_w,
                power_limit_w=sum(g.get("power_limit_w") or 0 for g in self.gpu_details) or None,
                min_window_s=self.suite.min_window_s,
                other_processes=gpus.other_processes(self.devices, _own_pids()) if self.devices else [],
            ),
        }
        if isinstance(self.meter, NvmlMeter):
            self.meter.sampler.save(self.timeline_path, label, whole_start.t, whole_end.t)
            record["timeline"] = {"file": TIMELINE_FILE, "point": label}
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

    def _steady(self, result, window: _Window) -> dict:
        if not (window.start and window.end and result.steady_duration_s > 0):
            return {"reached": False, "why": "the batch never filled with work still queued "
                                             "(raise requests_per_batch above 1)"}
        energy = self.meter.reading(window.start, window.end)
        return {
            "reached": True,
            "duration_s": result.steady_duration_s,
            "output_tokens": result.steady_output_tokens,
            "output_tok_s": result.steady_output_tokens / result.steady_duration_s,
            "energy": energy.to_record(),
            "j_per_output_token": energy.energy_j / result.steady_output_tokens
            if energy.energy_j and result.steady_output_tokens else None,
        }

    def _samples(self, t0: float, t1: float) -> list:
        return self.meter.sampler.between(t0, t1) if isinstance(self.meter, NvmlMeter) else []


def _own_pids() -> set[int]:
    """This process and its children (vLLM's engine and workers)."""
    import psutil

    me = psutil.Process()
    return {me.pid, *(c.pid for c in me.children(recursive=True))}
