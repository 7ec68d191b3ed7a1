"""Pricing a set of records in one call: offline and serving points, priced alike."""

from dataclasses import dataclass

import pandas as pd

from bench.run.record import PointRecord
from tokencost.pricing.api_prices import ApiPrice, find_api
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry
from tokencost.pricing.plausibility import checked_imports
from tokencost.pricing.serving import serve_table
from tokencost.pricing.table import measured_points, price_table


@dataclass
class PricedRuns:
    offline: pd.DataFrame  # one priced row per offline point
    serving: pd.DataFrame  # one priced row per serving point, with fronts marked

    @property
    def empty(self) -> bool:
        return bool(self.offline.empty and self.serving.empty)

    def merged(self) -> pd.DataFrame:
        """Offline and serving rows in one table (their `mode` column tells them apart)."""
        tables = [t for t in (self.offline, self.serving) if not t.empty]
        return pd.concat(tables, ignore_index=True) if tables else self.offline


@dataclass
class Pricing:
    """Everything that turns records into money, chosen once per command."""

    assumptions: Assumptions
    catalog: list[HardwareEntry]
    api: ApiPrice

    @classmethod
    def of(cls, assumptions: Assumptions, catalog: list[HardwareEntry], api_key: str | None = None) -> "Pricing":
        return cls(assumptions, catalog, find_api(api_key or assumptions.api))

    def price(self, records: list[PointRecord]) -> PricedRuns:
        records = checked_imports(records, self.catalog)  # another tool's figures, checked before they count
        return PricedRuns(
            offline=price_table(measured_points(records), self.catalog, self.assumptions, self.api),
            serving=serve_table(records, self.catalog, self.assumptions, self.api),
        )
