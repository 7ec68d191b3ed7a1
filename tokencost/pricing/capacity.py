"""Capacity at service levels, priced: what a capacity search found (bench.serve.capacity, capacity.jsonl) turned
into units of hardware and dollars.

For each search (model, workload, tier) the measurements at its capacity, priced as every serving point of the run
is (tokencost.pricing.serving.serve_table), give, as the median over those measurements:
  goodput                 requests that each kept the tier's limits / the measured window (s)
  $/M within the tier     hourly cost / 3600 x window (s) / prompt and output tokens of those requests x 1e6
  users at capacity       closed loop: the concurrency (each user keeps one request in flight, no pause);
                          open loop: Little's law, requests/s x mean end-to-end seconds
  units per 1,000 users   1000 / users at capacity x the units one server is priced on
  units per 1M requests/d 1e6 / 86400 / goodput x the units one server is priced on
Units are what the run is priced by: GPUs, or vCPUs on a CPU. A search that never met its tier has no numbers;
one that met it up to the most it tried ("at-least") gives bounds: at most that many units.
"""

from typing import Any

import pandas as pd

from bench.inputs.tiers import shipped_tiers
from tokencost.pricing.serving import describe_limits

USERS = 1000
REQUESTS_PER_DAY = 1e6
SECONDS_PER_DAY = 86400
CLOSED_LOOP = "closed loop: users = concurrency"
OPEN_LOOP = "open loop: users = requests/s x mean E2E s (Little's law)"


def capacity_table(outcomes: list[dict[str, Any]], serving: pd.DataFrame) -> pd.DataFrame:
    """One row per search outcome (each a capacity.jsonl line, with `run_ids`: the runs of its run directory)."""
    return pd.DataFrame([capacity_row(o, serving) for o in outcomes])


def capacity_row(outcome: dict[str, Any], serving: pd.DataFrame) -> dict[str, Any]:
    own = _runs_rows(outcome, serving)
    at = own[own["point"].isin(outcome.get("points") or [])] if "point" in own else own.iloc[:0]
    first = (at if not at.empty else own).iloc[0] if not own.empty else {}
    tier, units = outcome["tier"], first.get("accelerator_count", float("nan"))
    row = {
        "model": outcome["model"],
        "hardware": first.get("hardware"),
        "accelerator_count": units,
        "unit": unit_name(first.get("accelerator"), first.get("hardware")),
        "workload": outcome.get("workload"),
        "tier": tier,
        "tier_limits": tier_limits(tier, serving.attrs.get("tiers", {})),
        "load": outcome.get("load"),
        "status": outcome.get("status"),
        "capacity": outcome.get("capacity"),
        "capacity_text": capacity_words(outcome),
        "first_failing": outcome.get("first_failing"),
        "first_failing_text": first_failing_words(outcome),
        "maximum": outcome.get("maximum"),
        "tolerance": outcome.get("tolerance"),
        "repeats": outcome.get("repeats"),
        "verdicts": verdict_words(outcome),
        "n": len(at),
        "note": outcome.get("note"),
        "label": first.get("label"),
    }
    return row | _at_capacity(outcome, at, tier, units)


def _runs_rows(outcome: dict[str, Any], serving: pd.DataFrame) -> pd.DataFrame:
    """The priced serving rows of the search's model in the search's runs."""
    if serving.empty:
        return serving
    rows = serving[serving["model"] == outcome["model"]]
    return rows[rows["run_id"].isin(outcome["run_ids"])] if outcome.get("run_ids") is not None else rows


def _at_capacity(outcome: dict[str, Any], at: pd.DataFrame, tier: str, units: float) -> dict[str, Any]:
    """The numbers of the measurements at the capacity: medians, with ranges where there are several."""
    nan, closed = float("nan"), outcome.get("load") == "concurrency"
    numbers: dict[str, Any] = {
        "goodput_rps": nan,
        "goodput_rps_min": nan,
        "goodput_rps_max": nan,
        "tier_usd_per_mtok": nan,
        "tier_usd_per_mtok_min": nan,
        "tier_usd_per_mtok_max": nan,
        "tier_usd_per_mtok_spread": nan,
        "users_at_capacity": nan,
        "users_basis": CLOSED_LOOP if closed else OPEN_LOOP,
        "units_per_1000_users": nan,
        "units_per_million_requests_day": nan,
    }
    if at.empty or outcome.get("capacity") is None:
        return numbers
    goodput = _column(at, f"tier_{tier}_requests_within") / at["duration_s"]
    usd = _column(at, f"tier_{tier}_usd_per_mtok")
    users = (
        pd.Series(float(outcome["capacity"]), index=at.index)
        if closed
        else at["requests_per_s"] * _column(at, "e2e_mean_ms") / 1000
    )
    numbers |= {
        "goodput_rps": goodput.median(),
        "goodput_rps_min": goodput.min(),
        "goodput_rps_max": goodput.max(),
        "tier_usd_per_mtok": usd.median(),
        "tier_usd_per_mtok_min": usd.min(),
        "tier_usd_per_mtok_max": usd.max(),
        "tier_usd_per_mtok_spread": spread(usd),
        "users_at_capacity": users.median(),
    }
    numbers["units_per_1000_users"] = _per(USERS, numbers["users_at_capacity"]) * units
    numbers["units_per_million_requests_day"] = _per(REQUESTS_PER_DAY / SECONDS_PER_DAY, numbers["goodput_rps"]) * units
    return numbers


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(rows[name], errors="coerce") if name in rows else pd.Series(float("nan"), index=rows.index)


def _per(amount: float, rate: float) -> float:
    return amount / rate if pd.notna(rate) and rate > 0 else float("nan")


def spread(values: pd.Series) -> float:
    """Half the range over the median (NaN for fewer than two values or a median of 0)."""
    values = values.dropna()
    middle = values.median()
    if len(values) < 2 or not middle:
        return float("nan")
    return float((values.max() - values.min()) / 2 / middle)


def unit_name(accelerator: str | None, hardware: str | None) -> str:
    """What a run is priced by: 'vCPUs' on a CPU, else 'GPUs'."""
    cpu = str(accelerator or "").startswith("CPU (") or str(hardware or "").startswith("cpu")
    return "vCPUs" if cpu else "GPUs"


def tier_limits(tier: str, checked: dict[str, dict[str, Any]]) -> str:
    """The tier's limits in words (Tier.describe): as the records were checked against them, else as shipped."""
    if tier in checked:
        return describe_limits(checked[tier])
    shipped = shipped_tiers().get(tier)
    return shipped.describe() if shipped else "?"


def load_unit(load: str | None, value: float | None) -> str:
    if load == "concurrency":
        return "concurrent request" if value == 1 else "concurrent requests"
    return "requests/s"


def _value(load: str | None, value: float | None) -> str:
    return f"{value:g} {load_unit(load, value)}"


def capacity_words(outcome: dict[str, Any]) -> str:
    """'12 concurrent requests', 'at least 64 concurrent requests', or 'never — fails at the lowest load tried
    (1 concurrent request)'."""
    load, capacity, status = outcome.get("load"), outcome.get("capacity"), outcome.get("status")
    if status == "never" or capacity is None:
        tried = [float(v) for v in outcome.get("tried") or {}]
        lowest = min(tried) if tried else outcome.get("first_failing")
        return "never — fails at the lowest load tried" + (f" ({_value(load, lowest)})" if lowest is not None else "")
    return ("at least " if status == "at-least" else "") + _value(load, capacity)


def verdict_words(outcome: dict[str, Any]) -> str:
    """How the measurements at the capacity (or at the lowest load, for 'never') judged the tier: 'met 2 of 3'."""
    tried = outcome.get("tried") or {}
    load = outcome.get("capacity")
    if load is None:
        load = min(map(float, tried), default=None)
    verdicts = tried.get(f"{load:g}") if load is not None else None
    return f"met {sum(verdicts)} of {len(verdicts)}" if verdicts else ""


def first_failing_words(outcome: dict[str, Any]) -> str:
    """The lowest load above the capacity that failed the tier; for 'at least', that none did up to the most."""
    if outcome.get("first_failing") is not None and outcome.get("status") != "never":
        return _value(outcome.get("load"), outcome["first_failing"])
    if outcome.get("status") == "at-least" and outcome.get("maximum") is not None:
        return f"none up to {outcome['maximum']:g}"
    return ""
