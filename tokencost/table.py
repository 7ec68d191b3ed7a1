"""Records to a priced table: one row per measured point, all money applied afterwards."""

from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from bench.cards import load_card
from bench.errors import UserError
from tokencost.api_prices import ApiPrice, blended_per_mtok, find_api
from tokencost.assumptions import Assumptions
from tokencost.catalog import HardwareEntry, find_hardware
from tokencost.pricing import COMPONENTS, hourly_cost, token_prices
from tokencost.roofline import ceiling, hardware_of
from tokencost.split import input_time_shares

# Record fields a cost table needs, under the names the table uses.
POINT_FIELDS = {
    "run_id": "run_id",
    "model.name": "model",
    "model.kind": "kind",
    "model.pairs_with": "pairs_with",
    "model.total_params": "total_params",
    "model.active_params": "active_params",
    "engine.name": "engine",
    "engine.batch_size": "batch_size",
    "workload.isl": "isl",
    "workload.osl": "osl",
    "num_requests": "num_requests",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "duration_s": "duration_s",
    "output_tok_s": "output_tok_s",
    "total_tok_s": "total_tok_s",
    "prefill_probe.duration_s": "prefill_duration_s",
    "hardware.accelerator": "accelerator",
    "hardware.accelerator_count": "accelerator_count",
    "energy.method": "energy_method",
    "energy.boundary": "energy_boundary",
    "energy.energy_j": "energy_j",
    "energy.avg_power_w": "avg_power_w",
    "energy.idle_power_w": "idle_power_w",
    "energy.basis": "energy_basis",
    "steady_state.output_tok_s": "steady_output_tok_s",
    "steady_state.j_per_output_token": "steady_j_per_output_token",
}

# Serving-mode records add the load and the client-side latencies.
SERVE_FIELDS = {
    "load.model": "load_model",
    "load.concurrency": "concurrency",
    "load.request_rate": "request_rate",
    "requests_per_s": "requests_per_s",
    "latency_ms.ttft.median": "ttft_p50_ms",
    "latency_ms.ttft.p99": "ttft_p99_ms",
    "latency_ms.tpot.median": "tpot_p50_ms",
    "latency_ms.tpot.p90": "tpot_p90_ms",
    "latency_ms.itl.median": "itl_p50_ms",
    "latency_ms.itl.p99": "itl_p99_ms",
    "latency_ms.e2e.median": "e2e_p50_ms",
    "latency_ms.e2e.p99": "e2e_p99_ms",
    "interactivity_tok_s_user": "interactivity",
    "interactivity_p90_tok_s_user": "interactivity_p90",
    "goodput.requests_per_s": "goodput_rps",
    "goodput.share": "goodput_share",
}

PRICED_COLUMNS = [
    "hardware", "power_w_priced", "power_basis", "hourly_usd", *(f"{c}_usd_per_h" for c in COMPONENTS),
    *(f"{c}_share" for c in COMPONENTS), "input_time_share", "split_method", "total_per_mtok_usd",
    "input_per_mtok_usd", "output_per_mtok_usd", "api", "api_per_mtok_usd", "cost_vs_api", "assumptions",
    "assumptions_hash", "label", "roofline_output_tok_s", "roofline_fraction", "decode_bound",
]


def measured_points(records: list[dict], mode: str = "offline") -> pd.DataFrame:
    """The successful points of one mode ("offline" or "serve"), flattened to the columns above."""
    flat = pd.json_normalize([r for r in records if r.get("status") == "ok" and r.get("mode", "offline") == mode])
    fields = POINT_FIELDS | (SERVE_FIELDS if mode == "serve" else {})
    points = flat.reindex(columns=list(fields)).rename(columns=fields)
    points["input_tok_s"] = points["input_tokens"] / points["duration_s"]
    points["j_per_output_token"] = points["energy_j"] / points["output_tokens"]
    points["checks"] = _failed_checks(flat)
    points["mode"] = mode  # so tables of both modes can be told apart once merged or saved
    return points


def _is_false(value) -> bool:
    return value is not None and not pd.isna(value) and not bool(value)


def _failed_checks(flat: pd.DataFrame) -> pd.Series:
    """'ok', or the names of the validity checks a point failed."""
    prefix, suffix = "validity.", ".ok"
    names = [c[len(prefix):-len(suffix)] for c in flat.columns if c.startswith(prefix) and c.endswith(suffix)]
    failed = [[n for n in names if _is_false(flat.at[i, f"{prefix}{n}{suffix}"])] for i in flat.index]
    return pd.Series(["failed: " + ", ".join(f) if f else "ok" for f in failed], index=flat.index, dtype=object)


def price_table(points: pd.DataFrame, catalog: list[HardwareEntry], a: Assumptions, api: ApiPrice) -> pd.DataFrame:
    """Cost columns for each point: hourly cost by component, $/M total/input/output, API comparison."""
    if points.empty:
        return points.reindex(columns=[*points.columns, *PRICED_COLUMNS])
    shares = input_time_shares(points)
    rows = []
    for p, split in zip(points.to_dict("records"), shares.to_dict("records")):
        hardware = find_hardware(p["accelerator"], catalog)
        units = p["accelerator_count"]
        power_w, power_basis = p["avg_power_w"], p["energy_method"]
        if pd.isna(power_w):
            power_w, power_basis = units * hardware.tdp_w, "estimated-from-tdp"
        idle_w = None if pd.isna(p["idle_power_w"]) else p["idle_power_w"]
        cost = hourly_cost(units, hardware, power_w, a, idle_power_w=idle_w)
        share = None if pd.isna(split["input_time_share"]) else split["input_time_share"]
        prices = token_prices(cost.total, p["input_tok_s"], p["output_tok_s"], share)
        api_price = blended_per_mtok(api, p["input_tokens"], p["output_tokens"])
        roof = _roofline(p, hardware)
        rows.append({
            "hardware": hardware.key,
            "power_w_priced": power_w,
            "power_basis": power_basis,
            "hourly_usd": cost.total,
            **{f"{c}_usd_per_h": getattr(cost, c) for c in COMPONENTS},
            **{f"{c}_share": s for c, s in cost.shares().items()},
            **split,
            "total_per_mtok_usd": prices.total,
            "input_per_mtok_usd": prices.input,
            "output_per_mtok_usd": prices.output,
            "api": api.key,
            "api_per_mtok_usd": api_price,
            "cost_vs_api": prices.total / api_price,
            "assumptions": a.name,
            "assumptions_hash": a.hash,
            "roofline_output_tok_s": roof.output_tok_s if roof else float("nan"),
            "roofline_fraction": p["output_tok_s"] / roof.output_tok_s if roof else float("nan"),
            "decode_bound": roof.decode_bound if roof else None,
        })
    priced = pd.concat([points.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    priced["label"] = (
        "tok/s measured; energy " + priced["energy_method"].map(_energy_word)
        + priced["energy_boundary"].map(lambda b: "" if b == "none" else f" ({b if isinstance(b, str) else '?'})")
        + "; $ estimated from '" + a.name + "'"
    )
    return priced.sort_values(["engine", "kind", "model", "batch_size", "isl", "osl"], ignore_index=True)


@lru_cache(maxsize=64)
def _card_config(name: str) -> dict | None:
    try:
        return load_card(name).config
    except UserError:
        return None  # a record from a model card this checkout does not have


def _roofline(point: dict, hardware: HardwareEntry):
    """The point's ceiling, or None without the model card or the hardware's figures."""
    config = _card_config(point["model"])
    figures = hardware_of(hardware, point["accelerator_count"])
    if config is None or figures is None or pd.isna(point["isl"]) or pd.isna(point["batch_size"]):
        return None
    return ceiling(config, figures, int(point["batch_size"]), int(point["isl"]), int(point["osl"]))


def _energy_word(method: str) -> str:
    if method == "none":
        return "not measured (power priced at TDP)"
    if method == "stated":
        return "as stated by the user (--watts)"
    return "estimated" if method == "estimated" else f"measured [{method}]"


@dataclass
class Pricing:
    """Everything that turns records into money, chosen once per command."""

    assumptions: Assumptions
    catalog: list[HardwareEntry]
    api: ApiPrice

    @classmethod
    def of(cls, assumptions: Assumptions, catalog: list[HardwareEntry], api_key: str | None = None):
        return cls(assumptions, catalog, find_api(api_key or assumptions.api))

    def table(self, records: list[dict]) -> pd.DataFrame:
        priced = price_table(measured_points(records), self.catalog, self.assumptions, self.api)
        priced["cost_split"] = priced.apply(_cost_split, axis=1) if not priced.empty else pd.Series(dtype=object)
        return priced.sort_values(["hardware", "engine", "kind", "model", "batch_size", "isl", "osl"],
                                  ignore_index=True, kind="stable")


def _cost_split(row) -> str:
    return " / ".join(f"{row[f'{c}_share']:.0%}" for c in COMPONENTS)
