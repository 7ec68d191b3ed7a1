"""Whether an imported serving point could be true: its figures against each other and against the GPU it names.

A result file of another tool (tokencost.imports) is taken at its word, and these checks say where that word
cannot hold. Each is named in the point's `checks` (tokencost.pricing.checks); a point failing one is never "ok"
and never on a Pareto front.

- per_user_above_system: one user's decode rate (1000 / median TPOT) above twice what the whole system served
  (input + output tokens a second) while it held a request. While a request decodes at that rate the system emits
  at least as much, and while it prefills it reads prompt tokens faster still, so the busy system's token rate
  bounds the user's; twice it leaves room for requests too short for that to hold exactly. A system busy only
  part of the time (fewer than one request in flight on average, Little's law: requests/s x mean E2E) is counted
  at its busy rate. A file whose tool merged the stream's chunks (GuideLLM's ITL of the time between a request's
  first and last chunk) fails it.
- tpot_below_bandwidth_floor: a median TPOT shorter than streaming the model's weights once, at the GPUs' catalog
  memory bandwidth: every decode step reads them. The floor is a low one: the weights a single token reads (an
  MoE's top-k experts, the embedding table left out) at one byte a parameter (FP8, the narrowest weights vLLM
  makes of a checkpoint as it loads it), over all the GPUs' bandwidth together. Only where the GPU (its catalog
  bandwidth) and the model (its card) are known; speculative decoding, which emits several tokens a step, can
  beat it.
- zero_or_negative_time: a duration, rate, TTFT, TPOT or E2E latency of 0 or less, or a median E2E below the
  median TTFT (a request that ended before its first token). Not the ITL: chunks read together are 0 ms apart. The importers refuse the figures a price divides by (0 duration,
  0 output tokens or throughput, a 0 TPOT) in one line; this catches the rest.
"""

from typing import Any

from bench.errors import UserError
from bench.run.record import PointRecord, Validity
from tokencost.pricing.catalog import HardwareEntry, find_hardware
from tokencost.pricing.checks import (
    IMPLAUSIBLE,
    PER_USER_ABOVE_SYSTEM,
    TPOT_BELOW_BANDWIDTH_FLOOR,
    ZERO_OR_NEGATIVE_TIME,
)
from tokencost.pricing.roofline import BYTES_PER_PARAM, weight_bytes_read
from tokencost.pricing.table import card_config

SYSTEM_MARGIN = 2.0  # a user's rate may reach this many times the busy system's before it cannot be true
FLOOR_BYTES_PER_PARAM = BYTES_PER_PARAM["fp8"]
Check = dict[str, Any]  # {"ok": True, False or None (cannot be judged), the figures behind it, "why": in words}


def checked_imports(records: list[PointRecord], catalog: list[HardwareEntry]) -> list[PointRecord]:
    """The records, each imported serving point (its `source` set) with the plausibility checks in its validity."""
    return [_with_checks(r, catalog) if r.source is not None and r.mode == "serve" and r.ok else r for r in records]


def implausible_lines(records: list[PointRecord]) -> list[str]:
    """Each failed plausibility check of the records, in words: 'POINT: CHECK: why'."""
    return [
        f"{r.point}: {name}: {check.model_extra['why']}"
        for r in records
        if r.validity
        for name, check in r.validity.checks.items()
        if name in IMPLAUSIBLE and check.ok is False and check.model_extra
    ]


def _with_checks(r: PointRecord, catalog: list[HardwareEntry]) -> PointRecord:
    checks = {name: check.model_dump() for name, check in (r.validity.checks.items() if r.validity else ())}
    checks |= {
        PER_USER_ABOVE_SYSTEM: per_user_above_system(r),
        TPOT_BELOW_BANDWIDTH_FLOOR: tpot_below_bandwidth_floor(r, catalog),
        ZERO_OR_NEGATIVE_TIME: zero_or_negative_time(r),
    }
    return r.model_copy(update={"validity": Validity.of(checks)})


def per_user_above_system(r: PointRecord) -> Check:
    """Whether one user's decode rate stays within SYSTEM_MARGIN x the system's token rate while busy."""
    user, duration = r.interactivity_tok_s_user, r.duration_s
    if not user or not duration or duration <= 0:
        return {"ok": None, "why": "no per-user rate or no duration to judge by"}
    system = r.total_tok_s or ((r.input_tokens or 0) + (r.output_tokens or 0)) / duration
    requests_per_s = r.requests_per_s or (r.requests_completed or 0) / duration
    e2e_ms = r.latency_ms and (r.latency_ms.e2e.mean or r.latency_ms.e2e.median)
    in_flight = requests_per_s * e2e_ms / 1000 if requests_per_s and e2e_ms else None
    if in_flight is None and r.concurrency is None:
        return {"ok": None, "why": "an open-loop point without its E2E latency: how busy the system was is unknown"}
    busy = system / min(1.0, in_flight) if in_flight else system  # closed loop without E2E: taken as always busy
    ok = user <= SYSTEM_MARGIN * busy
    return {
        "ok": ok,
        "tok_s_user": user,
        "system_tok_s": system,
        "requests_in_flight": in_flight,
        "busy_system_tok_s": busy,
        "margin": SYSTEM_MARGIN,
        "why": (
            f"{user:,.0f} tok/s per user (1000 / median TPOT) against {busy:,.0f} tok/s for the whole system "
            f"(input + output{'' if in_flight is None else f', {in_flight:.2g} requests in flight on average'}), "
            f"a limit of {SYSTEM_MARGIN:g}x"
            + ("" if ok else ": the TPOT is not a time per token (did the tool merge the stream's chunks?)")
        ),
    }


def tpot_below_bandwidth_floor(r: PointRecord, catalog: list[HardwareEntry]) -> Check:
    """Whether the median TPOT is at least the time to stream the model's weights once at the GPUs' bandwidth."""
    tpot_ms = r.latency_ms and r.latency_ms.tpot.median
    config = None if r.model.kind == "unknown" else card_config(r.model.name)
    try:
        hardware: HardwareEntry | None = find_hardware(r.hardware.accelerator, catalog)
    except UserError:
        hardware = None  # the price names the unknown GPU in one line
    bandwidth = hardware.get("bandwidth_tbs") if hardware and not hardware.key.startswith("cpu") else None
    if not tpot_ms or config is None or not bandwidth:
        return {"ok": None, "why": "the model's card, the GPU's catalog bandwidth or the TPOT is unknown"}
    gpus = r.hardware.accelerator_count
    weights = weight_bytes_read(config, 1, FLOOR_BYTES_PER_PARAM, fewest_experts=True)
    floor_ms = weights / (bandwidth * 1e12 * gpus) * 1000
    ok = tpot_ms >= floor_ms
    return {
        "ok": ok,
        "tpot_ms": tpot_ms,
        "floor_ms": floor_ms,
        "weight_bytes": weights,
        "bandwidth_tb_s": bandwidth * gpus,
        "why": (
            f"median TPOT {tpot_ms:.3g} ms is {'at least' if ok else 'below'} {floor_ms:.3g} ms, the time {gpus} x {hardware.key if hardware else '?'} "
            f"({bandwidth * gpus:g} TB/s) take to read {r.model.name}'s weights once at FP8 ({weights / 1e9:.3g} GB)"
        ),
    }


def zero_or_negative_time(r: PointRecord) -> Check:
    """Whether every duration, rate and latency the point gives is positive, and its median E2E not below its TTFT."""
    latency = r.latency_ms
    figures = {
        "duration_s": r.duration_s,
        "output_tok_s": r.output_tok_s,
        "total_tok_s": r.total_tok_s,
        "requests_per_s": r.requests_per_s,
        "request_rate": r.request_rate,
        **(
            {
                f"{name}_{stat}_ms": getattr(getattr(latency, name), field)
                for name in ("ttft", "tpot", "e2e")  # not ITL: chunks read together have 0 ms between them
                for stat, field in (("p50", "median"), ("mean", "mean"))
            }
            if latency
            else {}
        ),
    }
    bad = [f"{name} {value:g}" for name, value in figures.items() if value is not None and value <= 0]
    ttft, e2e = figures.get("ttft_p50_ms"), figures.get("e2e_p50_ms")
    if ttft is not None and e2e is not None and e2e < ttft:
        bad.append(f"median E2E {e2e:g} ms below median TTFT {ttft:g} ms")
    return {"ok": not bad, "why": "; ".join(bad) or "every time and rate is positive"}
