"""Money math: hourly cost of the hardware in use, and $ per million tokens.

$/M tokens = hourly cost / (tokens per second x 3600) x 1e6, where the hourly
cost is capital (unit price amortised over the useful life at the stated
utilisation) + energy (watts x PUE x $/kWh) + hosting.
"""

from dataclasses import dataclass

import pandas as pd

from tokencost.assumptions import Assumptions
from tokencost.catalog import HardwareEntry, find_hardware

HOURS_PER_YEAR = 8760


def capital_recovery_factor(rate: float, years: float) -> float:
    """Share of the price to pay each year to repay it over `years` at `rate`."""
    if rate == 0:
        return 1 / years
    return rate / (1 - (1 + rate) ** -years)


@dataclass(frozen=True)
class HourlyCost:
    capital_usd: float
    energy_usd: float
    hosting_usd: float

    @property
    def total_usd(self) -> float:
        return self.capital_usd + self.energy_usd + self.hosting_usd


def hourly_cost(units: int, hardware: HardwareEntry, power_w: float, a: Assumptions) -> HourlyCost:
    capital = (
        units * hardware.price_usd * capital_recovery_factor(a.cost_of_capital, a.life_years)
        / (HOURS_PER_YEAR * a.utilization)
    )
    energy = power_w / 1000 * a.pue * a.usd_per_kwh
    hosting = units * a.hosting_usd_per_unit_hour
    return HourlyCost(capital, energy, hosting)


def usd_per_mtok(hourly_usd: float, tokens_per_s: float) -> float:
    if tokens_per_s <= 0:
        return float("nan")
    return hourly_usd / (tokens_per_s * 3600) * 1e6


def price_points(points: pd.DataFrame, catalog: list[HardwareEntry], a: Assumptions) -> pd.DataFrame:
    """Cost columns for each measured point (flattened records, status ok)."""
    rows = []
    for point in points.itertuples(index=False):
        p = point._asdict()
        hardware = find_hardware(p["accelerator"], catalog)
        units = int(p["accelerator_count"])
        power_w = p["avg_power_w"]
        power_basis = p["energy_method"]
        if pd.isna(power_w):
            power_w = units * hardware.tdp_w
            power_basis = "estimated-from-tdp"
        cost = hourly_cost(units, hardware, power_w, a)
        rows.append(
            {
                "hardware": hardware.key,
                "units": units,
                "power_w_priced": power_w,
                "power_basis": power_basis,
                "hourly_usd": cost.total_usd,
                "capital_usd_per_h": cost.capital_usd,
                "energy_usd_per_h": cost.energy_usd,
                "hosting_usd_per_h": cost.hosting_usd,
                "capital_share": cost.capital_usd / cost.total_usd if cost.total_usd else float("nan"),
                "output_per_mtok_usd": usd_per_mtok(cost.total_usd, p["output_tok_s"]),
                "total_per_mtok_usd": usd_per_mtok(cost.total_usd, p["total_tok_s"]),
                "assumptions": a.name,
            }
        )
    return pd.concat([points.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
