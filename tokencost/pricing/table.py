"""Records to a priced table: one row per measured point, all money applied afterwards."""

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from bench.inputs.precision import BF16, from_name, record_name
from bench.run.record import Mode, PointRecord
from tokencost.pricing.api_prices import ApiPrice, blended_per_mtok
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry, find_hardware
from tokencost.pricing.checks import checks_text, with_failed
from tokencost.pricing.hourly import (
    COMPONENTS,
    HourlyCost,
    boundary_power,
    host_w_per_unit,
    hourly_cost,
    idle_device_w,
    token_prices,
    usd_per_mtok_of_time,
)
from tokencost.pricing.roofline import (
    Ceiling,
    ceiling,
    hardware_of,
    host_hardware,
    kv_bytes_per_token,
    weight_bytes_read,
)
from tokencost.pricing.split import input_time_shares


def node_count(r: PointRecord) -> int:
    """The machines a record's engine spanned: its nodes on a multi-node engine, else 1 (one machine)."""
    return max(len(r.hardware.nodes), 1)


Column = Callable[[PointRecord], Any]  # how to read a table column off a record
T = TypeVar("T")


def _measured(section: T | None) -> T:
    """A section every record in the table has: an ok point's energy, a serving point's load (PointRecord._complete)."""
    assert section is not None, "an ok record lacks a section its schema requires"
    return section


# Table columns read from a record: one definition, so a renamed record field fails here, loudly.
POINT_COLUMNS: dict[str, Column] = {
    "run_id": lambda r: r.run_id,
    "model": lambda r: r.model.name,
    "kind": lambda r: r.model.kind,
    "pairs_with": lambda r: r.model.pairs_with,
    "total_params": lambda r: r.model.total_params,
    "active_params": lambda r: r.model.active_params,
    "weights": lambda r: r.model.weights,  # "dummy": random weights, a run of the machinery rather than of a model
    "engine": lambda r: r.engine.name,
    # weights' and KV cache's formats, e.g. bf16, fp8-kv-fp8, from the record's precision; imported published
    # results (InferenceX, MLPerf) carry theirs among the engine's settings; None where neither says
    "precision": lambda r: (
        record_name(r.precision.weights, r.precision.kv_cache)
        if r.precision
        else (r.engine.model_extra or {}).get("precision")
    ),
    "batch_size": lambda r: r.batch_size,
    "isl": lambda r: r.workload.isl,  # for a kind other than random, the mean over the point's requests
    "osl": lambda r: r.workload.osl,
    # Older records hold random points only, without a kind or label.
    "workload_kind": lambda r: r.workload.kind or "random",
    "workload_label": lambda r: r.workload.label or f"{r.workload.kind or 'random'} {r.workload.isl}/{r.workload.osl}",
    # vLLM's prefix cache over the measured point: hit rate counted, and what the workload's structure allows.
    "prefix_hit_rate": lambda r: r.prefix_cache and r.prefix_cache.hit_rate,
    "implied_hit_rate": lambda r: r.prefix_cache and r.prefix_cache.implied_hit_rate,
    "cached_input_tokens": lambda r: _prefix_hits(r)[0],  # H: the hits vLLM counted, else those implied
    "cached_input_basis": lambda r: _prefix_hits(r)[1],  # measured, implied, or None (unknown)
    "num_requests": lambda r: r.num_requests,
    "input_tokens": lambda r: r.input_tokens,
    "output_tokens": lambda r: r.output_tokens,
    "duration_s": lambda r: r.duration_s,
    "output_tok_s": lambda r: r.output_tok_s,
    # Older and imported records may lack it: input and output tokens over the same window.
    "total_tok_s": lambda r: (
        r.total_tok_s
        if r.total_tok_s is not None or not r.duration_s
        else ((r.input_tokens or 0) + (r.output_tokens or 0)) / r.duration_s
    ),
    "prefill_duration_s": lambda r: r.prefill_probe and r.prefill_probe.duration_s,
    "prefill_input_tokens": lambda r: r.prefill_probe and r.prefill_probe.input_tokens,
    # Cache-aware workloads: the same prompts' prefill again, their blocks in the prefix cache.
    "cached_prefill_duration_s": lambda r: r.cached_prefill_probe and r.cached_prefill_probe.duration_s,
    "cached_prefill_input_tokens": lambda r: r.cached_prefill_probe and r.cached_prefill_probe.input_tokens,
    "cached_prefill_hits": lambda r: r.cached_prefill_probe and r.cached_prefill_probe.cached_tokens,
    "accelerator": lambda r: r.hardware.accelerator,
    "accelerator_count": lambda r: r.hardware.accelerator_count,  # every node's GPUs on a multi-node engine
    "nodes": node_count,
    # the host memory bandwidth the run measured (bench.memory_bandwidth); absent in older records
    "memory_bandwidth_gb_s": lambda r: r.hardware.memory_bandwidth_gb_s,
    "cache_bandwidth_gb_s": lambda r: r.hardware.cache_bandwidth_gb_s,
    "llc_bytes": lambda r: r.hardware.llc_bytes,
    "bandwidth_threads": lambda r: r.hardware.bandwidth_threads,
    "energy_method": lambda r: _measured(r.energy).method,
    "energy_boundary": lambda r: _measured(r.energy).boundary,
    "energy_j": lambda r: _measured(r.energy).energy_j,
    "avg_power_w": lambda r: _measured(r.energy).avg_power_w,
    "idle_power_w": lambda r: _measured(r.energy).idle_power_w,
    # What an idle deployment draws (its engine loaded); the run's pre-engine baseline where not measured.
    "idle_power_w_priced": lambda r: (
        _measured(r.energy).loaded_idle_power_w
        if _measured(r.energy).loaded_idle_power_w is not None
        else _measured(r.energy).idle_power_w
    ),
    "energy_basis": lambda r: _measured(r.energy).basis,
    "steady_output_tok_s": lambda r: r.steady_state and r.steady_state.output_tok_s,
    "steady_j_per_output_token": lambda r: r.steady_state and r.steady_state.j_per_output_token,
}

# Numbers of the prefix cache and its probes, which older records lack.
REUSE_NUMBERS = [
    "prefix_hit_rate",
    "implied_hit_rate",
    "cached_input_tokens",
    "prefill_input_tokens",
    "cached_prefill_duration_s",
    "cached_prefill_input_tokens",
    "cached_prefill_hits",
]

# Serving points add their load and the client-side latencies.
SERVE_COLUMNS: dict[str, Column] = {
    "load_model": lambda r: _measured(r.load).model,
    "concurrency": lambda r: r.concurrency,
    "request_rate": lambda r: r.request_rate,
    "requests_per_s": lambda r: r.requests_per_s,
    "ttft_p50_ms": lambda r: r.latency_ms and r.latency_ms.ttft.median,
    "ttft_p99_ms": lambda r: r.latency_ms and r.latency_ms.ttft.p99,
    "tpot_p50_ms": lambda r: r.latency_ms and r.latency_ms.tpot.median,
    "tpot_p90_ms": lambda r: r.latency_ms and r.latency_ms.tpot.p90,
    "itl_p50_ms": lambda r: r.latency_ms and r.latency_ms.itl.median,
    "itl_p99_ms": lambda r: r.latency_ms and r.latency_ms.itl.p99,
    "e2e_p50_ms": lambda r: r.latency_ms and r.latency_ms.e2e.median,
    "e2e_p99_ms": lambda r: r.latency_ms and r.latency_ms.e2e.p99,
    "interactivity": lambda r: r.interactivity_tok_s_user,
    "interactivity_p90": lambda r: r.interactivity_p90_tok_s_user,
    "goodput_rps": lambda r: r.goodput and r.goodput.requests_per_s,
    "goodput_share": lambda r: r.goodput and r.goodput.share,
}

# Serving records measured with repeats or checked against service-level tiers add these; a table of older
# records leaves them out, so that it reads as it did (tokencost.pricing.serving.serve_table).
REPEAT_COLUMNS: dict[str, Column] = {
    "point": lambda r: r.point,  # the record's key: a capacity search names the points it measured by it
    "repeat": lambda r: r.repeat,  # which measurement of the same point (0 first); None where not repeated
    "ttft_p90_ms": lambda r: r.latency_ms and r.latency_ms.ttft.p90,
    "e2e_mean_ms": lambda r: r.latency_ms and r.latency_ms.e2e.mean,  # Little's law: users in flight
}
# Per tier checked (its name in place of NAME): whether the point kept it, and what was served within its limits.
TIER_FIELDS = ("met", "requests_within", "total_tokens_within")


def tier_names(records: list[PointRecord]) -> list[str]:
    """Every tier some record was checked against, in the order they first appear."""
    return list(dict.fromkeys(name for r in records for name in (r.tiers or {})))


def tier_columns(records: list[PointRecord]) -> pd.DataFrame:
    """tier_NAME_met, tier_NAME_requests_within and tier_NAME_total_tokens_within per tier checked, one row per
    record (None where a record was not checked against that tier); no columns where none was checked."""
    names, rows = tier_names(records), []
    for r in records:
        row: dict[str, Any] = {}
        for name in names:
            verdict = (r.tiers or {}).get(name)
            row |= {f"tier_{name}_{field}": getattr(verdict, field) if verdict else None for field in TIER_FIELDS}
        rows.append(row)
    return pd.DataFrame(rows, index=range(len(records)))


# The tokens a priced row's $/M tokens (total_per_mtok_usd, api_per_mtok_usd, cost_vs_api) and tok/s per MW count:
# input and output alike. Output tok/s, J per output token and $/M by type say their own in their names.
TOKEN_BASIS = "input+output"
# Power at the preset's boundary (tokencost.pricing.hourly): what J/token and tok/s per MW are reported at, and
# the IT watts the electricity bill covers while serving and while idle (NaN when rented: the rate covers them).
BOUNDARY_COLUMNS = [
    "power_boundary",
    "power_w_boundary",
    "j_per_output_token_boundary",
    "tok_s_per_mw",
    "billed_power_w",
    "billed_idle_power_w",
]
PRICED_COLUMNS = [
    "hardware",
    "power_w_priced",
    "power_basis",
    *BOUNDARY_COLUMNS,
    "hourly_usd",
    *(f"{c}_usd_per_h" for c in COMPONENTS),
    *(f"{c}_share" for c in COMPONENTS),
    "input_time_share",
    "split_method",
    "uncached_input_s_per_token",
    "cached_input_s_per_token",
    "total_per_mtok_usd",
    "input_per_mtok_usd",
    "output_per_mtok_usd",
    "uncached_input_per_mtok_usd",
    "cached_input_per_mtok_usd",
    "api",
    "api_per_mtok_usd",
    "cost_vs_api",
    "token_basis",
    "assumptions",
    "assumptions_hash",
    "label",
    "roofline_output_tok_s",
    "roofline_fraction",
    "decode_bound",
    "cost_split",
    "roofline_expected_tok_s",
    "roofline_basis",
]
CEILING_TOO_LOW = "ceiling_too_low"  # measured above the roofline: the hardware figures understate the machine
# Older records are all random, so the workload keys leave their order as it was.
SORT_COLUMNS = [
    "hardware",
    "engine",
    "precision",
    "kind",
    "model",
    "workload_kind",
    "batch_size",
    "concurrency",
    "request_rate",
    "isl",
    "osl",
    "workload_label",
]


def measured_points(records: list[PointRecord], mode: Mode = "offline") -> pd.DataFrame:
    """The successful points of one mode ("offline" or "serve"), one row each."""
    chosen = [r for r in records if r.ok and r.mode == mode]
    columns = POINT_COLUMNS | (SERVE_COLUMNS if mode == "serve" else {})
    points = pd.DataFrame([{name: read(r) for name, read in columns.items()} for r in chosen], columns=list(columns))
    points[REUSE_NUMBERS] = points[REUSE_NUMBERS].astype(float)  # NaN, not None, where no record has them
    points["input_tok_s"] = points["input_tokens"] / points["duration_s"]
    points["j_per_output_token"] = points["energy_j"] / points["output_tokens"]
    points["checks"] = pd.Series([_checks(r) for r in chosen], index=points.index, dtype=object)
    points["mode"] = mode  # so tables of both modes can be told apart once merged or saved
    return points


def _prefix_hits(r: PointRecord) -> tuple[int | None, str | None]:
    """The prompt tokens the prefix cache served over the point, and whether vLLM counted them ("measured") or
    the workload's structure implies them ("implied", where vLLM counted none); (None, None) when unknown."""
    cache = r.prefix_cache
    if cache is None:
        return None, None
    if cache.hits is not None:
        return cache.hits, "measured"
    return (cache.implied_hits, "implied") if cache.implied_hits is not None else (None, None)


def _checks(r: PointRecord) -> str:
    """'ok', or the names of the validity checks a point failed."""
    return checks_text(r.validity.failed() if r.validity else [])


def price_table(points: pd.DataFrame, catalog: list[HardwareEntry], a: Assumptions, api: ApiPrice) -> pd.DataFrame:
    """Cost columns for each point: hourly cost by component, $/M total/input/output, API comparison."""
    if points.empty:
        return points.reindex(columns=[*points.columns, *PRICED_COLUMNS])
    shares = input_time_shares(points)
    rows, boundaries = [], []
    for p, split in zip(points.to_dict("records"), shares.to_dict("records")):
        hardware = find_hardware(p["accelerator"], catalog)
        units, nodes = p["accelerator_count"], p["nodes"]
        power_w, power_basis = p["avg_power_w"], p["energy_method"]
        if pd.isna(power_w):
            power_w, power_basis = units * hardware.tdp_w, "estimated-from-tdp"
        idle_w = None if pd.isna(p["idle_power_w_priced"]) else p["idle_power_w_priced"]
        cost = hourly_cost(units, hardware, power_w, a, idle_power_w=idle_w, nodes=nodes)
        busy = boundary_power(units, hardware, power_w, a, nodes)
        idle = boundary_power(
            units, hardware, idle_device_w(units, hardware, a) if idle_w is None else idle_w, a, nodes
        )
        boundaries.append(
            _boundary_words(a, host_w_per_unit(hardware, a), p["accelerator"]) + _interconnect_words(a, nodes)
        )
        share = None if pd.isna(split["input_time_share"]) else split["input_time_share"]
        prices = token_prices(cost.total, p["input_tok_s"], p["output_tok_s"], share)
        hits = p["cached_input_tokens"] if pd.notna(p["cached_input_tokens"]) else 0
        api_price = blended_per_mtok(api, p["input_tokens"], p["output_tokens"], cached_tokens=hits)
        roof, roof_basis = _roofline(p, hardware)
        rows.append(
            {
                "hardware": hardware.key,
                "power_w_priced": power_w,
                "power_basis": power_basis,
                "power_boundary": a.power_boundary,
                "power_w_boundary": busy.watts,
                # the measured joules scaled to the boundary where measured; else the priced watts over tok/s
                "j_per_output_token_boundary": p["j_per_output_token"] * busy.watts / power_w
                if pd.notna(p["j_per_output_token"]) and power_w > 0
                else busy.watts / p["output_tok_s"]
                if p["output_tok_s"] > 0
                else float("nan"),
                "tok_s_per_mw": p["total_tok_s"] / busy.watts * 1e6 if busy.watts > 0 else float("nan"),
                "billed_power_w": float("nan") if a.ownership == "rented" else busy.billed_w,
                "billed_idle_power_w": float("nan") if a.ownership == "rented" else idle.billed_w,
                "hourly_usd": cost.total,
                **{f"{c}_usd_per_h": getattr(cost, c) for c in COMPONENTS},
                **{f"{c}_share": s for c, s in cost.shares().items()},
                **split,
                "total_per_mtok_usd": prices.total,
                "input_per_mtok_usd": prices.input,
                "output_per_mtok_usd": prices.output,
                # the probes' seconds per token priced at the point's hourly cost (NaN where not measured)
                "uncached_input_per_mtok_usd": usd_per_mtok_of_time(cost.total, split["uncached_input_s_per_token"]),
                "cached_input_per_mtok_usd": usd_per_mtok_of_time(cost.total, split["cached_input_s_per_token"]),
                "api": api.key,
                "api_per_mtok_usd": api_price,
                "cost_vs_api": prices.total / api_price,
                "token_basis": TOKEN_BASIS,
                "assumptions": a.name,
                "assumptions_hash": a.hash,
                # the ceiling proper (an MoE's fewest experts), and uniform routing's expectation beside it
                "roofline_output_tok_s": roof.bound_output_tok_s if roof else float("nan"),
                "roofline_expected_tok_s": roof.output_tok_s if roof else float("nan"),
                "roofline_fraction": p["output_tok_s"] / roof.bound_output_tok_s if roof else float("nan"),
                "roofline_basis": roof_basis,
                "decode_bound": roof.decode_bound if roof else None,
                "cost_split": _cost_split(cost),
            }
        )
    priced = pd.concat([points.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    # Above its ceiling, a point proves the ceiling's figures wrong; it is no efficiency.
    over = priced["roofline_fraction"] > 1
    priced.loc[over, "checks"] = priced.loc[over, "checks"].map(lambda c: with_failed(c, CEILING_TOO_LOW))
    priced["label"] = (
        "tok/s measured; energy "
        + priced["energy_method"].map(_energy_word)
        + priced["energy_boundary"].map(lambda b: "" if b == "none" else f" ({b if isinstance(b, str) else '?'})")
        + pd.Series(boundaries, index=priced.index)
        + "; $ estimated from '"
        + a.name
        + "'"
    )
    return priced.sort_values([c for c in SORT_COLUMNS if c in priced], ignore_index=True, kind="stable")


def _boundary_words(a: Assumptions, host_w: float, accelerator: str) -> str:
    """The label's words for the power boundary: what the reported watts cover."""
    if a.power_boundary == "gpu":
        return "; power: gpu boundary, a floor"
    host = f"+{host_w:g} W/{'vCPU' if str(accelerator).startswith('CPU (') else 'GPU'} host"
    return (
        f"; power: node boundary, {host}"
        if a.power_boundary == "node"
        else f"; power: facility boundary, ({host}) x PUE {a.pue:g}"
    )


def _interconnect_words(a: Assumptions, nodes: int) -> str:
    """The label's words for a multi-node engine's interconnect (none on one machine). No '$': two of them in a
    figure's title would be read as mathematics."""
    if nodes <= 1:
        return ""
    if a.ownership == "rented":
        return f"; {nodes} nodes, interconnect " + (
            f"assumed {a.interconnect_usd_per_gpu_hour:g} USD/GPU-hour"
            if a.interconnect_usd_per_gpu_hour
            else "in the rental rate"
        )
    watts = "" if a.power_boundary == "gpu" else f", +{a.interconnect_w_per_gpu:g} W/GPU"
    return f"; {nodes} nodes, interconnect assumed {a.interconnect_usd_per_gpu:g} USD/GPU{watts}"


def _cost_split(cost: HourlyCost) -> str:
    """Capital / energy / hosting / rental shares, and the interconnect's after them where it costs anything."""
    shares = cost.shares()
    split = " / ".join(f"{shares[c]:.0%}" for c in COMPONENTS if c != "interconnect")
    return split + (f" + {shares['interconnect']:.0%} interconnect" if cost.interconnect else "")


@lru_cache(maxsize=64)
def card_config(name: str) -> dict[str, Any] | None:
    try:
        return load_card(name).config
    except UserError:
        return None  # a record from a model card this checkout does not have


def _roofline(point: dict[str, Any], hardware: HardwareEntry) -> tuple[Ceiling, str] | tuple[None, None]:
    """The point's ceiling at the requests it held in flight and the bandwidth it used, or (None, None)
    without the card or hardware figures. A CPU run's measured bandwidth replaces the catalog's."""
    config = card_config(point["model"])
    in_flight = point["batch_size"] if pd.notna(point["batch_size"]) else point.get("concurrency")
    if config is None or pd.isna(point["isl"]) or in_flight is None or pd.isna(in_flight):
        return None, None
    batch, isl, osl = int(in_flight), int(point["isl"]), int(point["osl"])
    # The point's own precision (its bytes, and the peak of the format the GPU multiplies it in); bf16 where
    # the record does not say. A format this tokencost does not know has no ceiling.
    precision = from_name(point["precision"]) if isinstance(point.get("precision"), str) else BF16
    if precision is None:
        return None, None
    measured = {
        k: point.get(k)
        for k in ("memory_bandwidth_gb_s", "cache_bandwidth_gb_s", "llc_bytes", "bandwidth_threads")
        if pd.notna(point.get(k))
    }
    if hardware.key.startswith("cpu") and measured:
        resident = weight_bytes_read(config, float("inf"), 2) + batch * (isl + osl) * kv_bytes_per_token(config, 2)
        figures, basis = host_hardware(hardware, point["accelerator_count"], measured, resident)
    else:
        figures, basis = hardware_of(hardware, point["accelerator_count"], precision=precision), "catalog"
    if figures is None:
        return None, None
    return ceiling(config, figures, batch, isl, osl, precision=precision), basis


def _energy_word(method: str) -> str:
    if method == "none":
        return "not measured (power priced at TDP)"
    if method == "stated":
        return "as stated by the user (--watts)"
    return "estimated" if method == "estimated" else f"measured [{method}]"
