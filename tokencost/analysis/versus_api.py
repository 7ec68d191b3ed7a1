"""Self-hosting against an API: break-even volume, and the $0.10 per million tokens threshold."""

import math

import pandas as pd

from tokencost.analysis.pairs import cheapest_per
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.hourly import mtok_per_hour

HOURS_PER_MONTH = 730
THRESHOLD_PER_MTOK_USD = 0.10
BREAK_EVEN_COLUMNS = [
    "model",
    "batch_size",
    "api",
    "monthly_cost_usd",
    "capacity_mtok_per_month",
    "break_even_mtok_per_month",
    "break_even_share_of_capacity",
    "verdict",
]


def break_even(priced: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """Per model, at its cheapest point: the monthly token volume above which self-hosting beats the API.

    monthly_cost_usd is the bill serving at capacity (the preset's utilisation of 730 h, the rest idle);
    capacity = measured tok/s over those serving hours. How the bill moves with volume V depends on how the
    hours are paid for:
    - on-demand rental (billed only while serving): every token costs the point's $/M at any volume, so
      there is no break-even volume (NaN); the verdict compares $/M with the API's price.
    - owned: capital and hosting are a fixed monthly bill F; the hardware serves V / (M tokens an hour)
      hours at busy power and idles the rest of the 730 h at idle power (the table's billed watts, x PUE x
      $/kWh). Break-even: F + idle $/h x 730 + (busy - idle) $/h x V / (M tokens an hour) = V x API price.
    - other rentals (term contracts, InferenceX's hourly rates): a fixed bill of the rate over all hours;
      break-even = that bill / API price.
    A volume above capacity (or none at all: energy alone dearer than the API) means the API is cheaper
    even at full load.
    """
    rows = []
    for best in cheapest_per(priced, "model"):
        monthly_usd = best["hourly_usd"] * a.utilization * HOURS_PER_MONTH
        mtok_an_hour = mtok_per_hour(best["total_tok_s"])
        capacity_mtok = mtok_an_hour * a.utilization * HOURS_PER_MONTH
        api = best["api_per_mtok_usd"]
        if a.billed_only_while_serving:
            volume_mtok = float("nan")
            cheaper = best["total_per_mtok_usd"] < api
            verdict = (
                f"no break-even volume: on-demand rental is paid only while serving, so self-hosting costs "
                f"${best['total_per_mtok_usd']:.4g}/M at any volume against the API's ${api:.4g}/M: "
                + ("self-hosting is cheaper" if cheaper else "the API is cheaper")
            )
        else:
            volume_mtok = _owned_volume(best, a, mtok_an_hour) if a.ownership == "owned" else monthly_usd / api
            verdict = (
                "self-hosting can pay off" if volume_mtok <= capacity_mtok else "the API is cheaper even at full load"
            )
        rows.append(
            {
                "model": best["model"],
                "batch_size": best["batch_size"],
                "api": best["api"],
                "monthly_cost_usd": monthly_usd,
                "capacity_mtok_per_month": capacity_mtok,
                "break_even_mtok_per_month": volume_mtok,
                "break_even_share_of_capacity": volume_mtok / capacity_mtok,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows, columns=BREAK_EVEN_COLUMNS)


def _owned_volume(best: pd.Series, a: Assumptions, mtok_an_hour: float) -> float:
    """M tokens a month at which owning costs what the API does, idle hours at idle power; inf if never."""
    usd_per_wh = a.pue * a.usd_per_kwh / 1000
    busy_usd_h = best["billed_power_w"] * usd_per_wh
    idle_usd_h = best["billed_idle_power_w"] * usd_per_wh
    fixed = best["capital_usd_per_h"] + best["hosting_usd_per_h"] + best.get("interconnect_usd_per_h", 0.0)
    fixed_month = fixed * a.utilization * HOURS_PER_MONTH
    margin = best["api_per_mtok_usd"] - (busy_usd_h - idle_usd_h) / mtok_an_hour  # each M tokens' saving
    if not margin > 0:
        return math.inf
    return (fixed_month + idle_usd_h * HOURS_PER_MONTH) / margin


def threshold(priced: pd.DataFrame, target_per_mtok_usd: float = THRESHOLD_PER_MTOK_USD) -> pd.DataFrame:
    """Per model: the lowest $/M reached, and the throughput or hourly price that would reach the target."""
    rows = []
    for best in cheapest_per(priced, "model"):
        tok_s_needed = best["hourly_usd"] / target_per_mtok_usd / mtok_per_hour(1.0)
        rows.append(
            {
                "model": best["model"],
                "lowest_total_per_mtok_usd": best["total_per_mtok_usd"],
                "at_batch_size": best["batch_size"],
                "reached": best["total_per_mtok_usd"] <= target_per_mtok_usd,
                "tok_s_needed": tok_s_needed,
                "throughput_factor_needed": tok_s_needed / best["total_tok_s"],
                "hourly_usd_needed": target_per_mtok_usd * mtok_per_hour(best["total_tok_s"]),
            }
        )
    return pd.DataFrame(rows)
