"""Self-hosting against an API: break-even volume, and the $0.10 per million tokens threshold."""

import pandas as pd

from tokencost.analysis.pairs import cheapest_per
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.hourly import mtok_per_hour

HOURS_PER_MONTH = 730
THRESHOLD_PER_MTOK_USD = 0.10


def break_even(priced: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """Per model, at its cheapest point: the monthly token volume above which self-hosting beats the API.

    Self-hosting costs the deployment's monthly bill whatever the volume (its
    hourly cost per serving hour x utilisation x 730 h); the API costs its
    blended price per token. Break-even volume = monthly bill / API price.
    """
    rows = []
    for best in cheapest_per(priced, "model"):
        monthly_usd = best["hourly_usd"] * a.utilization * HOURS_PER_MONTH
        capacity_mtok = mtok_per_hour(best["total_tok_s"]) * a.utilization * HOURS_PER_MONTH
        volume_mtok = monthly_usd / best["api_per_mtok_usd"]
        rows.append({
            "model": best["model"],
            "batch_size": best["batch_size"],
            "api": best["api"],
            "monthly_cost_usd": monthly_usd,
            "capacity_mtok_per_month": capacity_mtok,
            "break_even_mtok_per_month": volume_mtok,
            "break_even_share_of_capacity": volume_mtok / capacity_mtok,
            "verdict": "self-hosting can pay off" if volume_mtok <= capacity_mtok
            else "the API is cheaper even at full load",
        })
    return pd.DataFrame(rows)


def threshold(priced: pd.DataFrame, target_per_mtok_usd: float = THRESHOLD_PER_MTOK_USD) -> pd.DataFrame:
    """Per model: the lowest $/M reached, and the throughput or hourly price that would reach the target."""
    rows = []
    for best in cheapest_per(priced, "model"):
        tok_s_needed = best["hourly_usd"] / target_per_mtok_usd / mtok_per_hour(1.0)
        rows.append({
            "model": best["model"],
            "lowest_total_per_mtok_usd": best["total_per_mtok_usd"],
            "at_batch_size": best["batch_size"],
            "reached": best["total_per_mtok_usd"] <= target_per_mtok_usd,
            "tok_s_needed": tok_s_needed,
            "throughput_factor_needed": tok_s_needed / best["total_tok_s"],
            "hourly_usd_needed": target_per_mtok_usd * mtok_per_hour(best["total_tok_s"]),
        })
    return pd.DataFrame(rows)
