"""Which assumption moves $/M most: each factor alone moved by +-X %, the rest held.

The base is the table's own figure for the point: the same power, the same measured idle watts and the
preset's power boundary (tokencost.pricing.hourly).
"""

from dataclasses import replace

import pandas as pd

from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry, find_hardware
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok

PRICE_FIELDS = ("price_usd", "server_share_usd", "rental_usd_per_hour", "reserved_usd_per_hour")


def _what_if(a: Assumptions, **changes: float | dict) -> Assumptions:
    """The assumptions with a factor moved: a what-if, not a user's value, so not held to a user's bounds (a life
    of 45 years moved by +20 % is 54, past the 50 a user may give)."""
    return a.model_copy(update=changes)


def _cost(point: dict, hardware: HardwareEntry, a: Assumptions, price_scale=1.0, tok_s_scale=1.0) -> float:
    if price_scale != 1.0:
        figures = {
            name: replace(f, value=f.value * price_scale) if name in PRICE_FIELDS else f
            for name, f in hardware.figures.items()
        }
        hardware = replace(hardware, figures=figures)
        if a.usd_per_gpu_hour is not None:
            a = _what_if(a, usd_per_gpu_hour=a.usd_per_gpu_hour * price_scale)
        elif a.rate == "rates":
            a = _what_if(a, rates={k: v * price_scale for k, v in a.rates.items()})
    idle = point.get("idle_power_w_priced")  # measured idle watts, as the table priced them
    idle = None if idle is None or pd.isna(idle) else idle
    cost = hourly_cost(
        point["accelerator_count"],
        hardware,
        point["power_w_priced"],
        a,
        idle_power_w=idle,
        nodes=int(point.get("nodes", 1) or 1),
    )
    return usd_per_mtok(cost.total, point["total_tok_s"] * tok_s_scale)


def sensitivity(point: dict, catalog: list[HardwareEntry], a: Assumptions, swing: float = 0.2) -> pd.DataFrame:
    """$/M total tokens at one point with each factor at (1 - swing) and (1 + swing) of its value."""
    hardware = find_hardware(point["accelerator"], catalog)
    base = _cost(point, hardware, a)
    lo, hi = 1 - swing, 1 + swing
    variants = {
        "chip price": lambda s: _cost(point, hardware, a, price_scale=s),
        "useful life": lambda s: _cost(point, hardware, _what_if(a, life_years=a.life_years * s)),
        "utilization": lambda s: _cost(point, hardware, _what_if(a, utilization=min(1.0, a.utilization * s))),
        "electricity price": lambda s: _cost(point, hardware, _what_if(a, usd_per_kwh=a.usd_per_kwh * s)),
        "PUE": lambda s: _cost(point, hardware, _what_if(a, pue=max(1.0, a.pue * s))),
        "throughput": lambda s: _cost(point, hardware, a, tok_s_scale=s),
    }
    rows = []
    for factor, cost_at in variants.items():
        low, high = cost_at(lo), cost_at(hi)
        rows.append(
            {
                "factor": factor,
                "at_minus": low,
                "at_plus": high,
                "swing_usd": abs(high - low),
                "swing_share": abs(high - low) / base,
            }
        )
    table = pd.DataFrame(rows).sort_values("swing_usd", ascending=False, ignore_index=True)
    table.attrs.update(base=base, swing=swing)
    return table
