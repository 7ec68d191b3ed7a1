"""The sweep runner: every model of a suite at every batch size, one record per point."""

import json
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bench import environment
from bench.cards import ModelCard, load_card
from bench.engines.vllm_offline import VllmOfflineEngine, cpu_environment_defaults
from bench.errors import UserError
from bench.power import DEFAULT_WATTS_PER_VCPU, gpu_info, make_meter, visible_gpu_handles
from bench.records import RecordWriter
from bench.suite import Suite

WARMUP_OSL = 8
MEASURED, WARMUP, PREFILL_PROBE = 0, 1, 2  # prompt streams


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname().split('.')[0]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SweepResult:
    run_dir: Path
    points: int


def run_sweep(
    suite: Suite,
    run_dir: Path,
    *,
    watts_per_vcpu: float = DEFAULT_WATTS_PER_VCPU,
    engine_factory: Callable = VllmOfflineEngine,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Measure every point of the suite, appending each record as it completes."""
    cards = [load_card(name) for name in suite.models]  # bad input fails before any engine starts
    for card in cards:
        suite.workload.check_fits(suite.engine.max_model_len or card.max_context, card.name)

    cpu_environment_defaults()
    handles = visible_gpu_handles()
    meter = make_meter(handles, watts_per_vcpu)
    context = {
        "run_id": run_dir.name,
        "hardware": environment.hardware(gpu_info(handles)),
        "software": environment.software(),
    }
    writer = RecordWriter(run_dir)
    (run_dir / "run.json").write_text(
        json.dumps(context | {"started_at": _now(), "suite": suite.to_record(), "meter": meter.describe()}, indent=2)
    )

    points = 0
    for card in cards:
        log(f"[{card.name}] starting {engine_factory.__name__} (max batch {max(suite.batch_sizes)})")
        engine = _start_engine(engine_factory, card, suite)
        try:
            for batch_size in suite.batch_sizes:
                record = _measure_point(engine, card, batch_size, suite, meter)
                writer.append(context | record)
                points += 1
                log(
                    f"[{card.name}] batch {batch_size}: {record['output_tok_s']:.1f} output tok/s, "
                    f"{record['energy']['avg_power_w'] or float('nan'):.1f} W ({record['energy']['method']})"
                )
        finally:
            engine.close()
    return SweepResult(run_dir, points)


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


def _measure_point(engine, card: ModelCard, batch_size: int, suite: Suite, meter) -> dict:
    workload = suite.workload
    num_requests = workload.num_requests(batch_size)
    prompts = workload.prompts(num_requests, card.vocab_size, MEASURED)
    if suite.warmup:
        # Same batch shape, few tokens: compiles and caches what this point needs.
        engine.generate(workload.prompts(batch_size, card.vocab_size, WARMUP), WARMUP_OSL, batch_size)

    started_at = _now()
    meter.begin()
    result = engine.generate(prompts, workload.osl, batch_size)
    energy = meter.end()
    record = {
        "point": f"{card.name}/batch{batch_size}/isl{workload.isl}/osl{workload.osl}",
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
        "energy": energy.to_record(),
    }
    if suite.prefill_probe:
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
