"""The sensitivity table's base is the priced table's own $/M: same power, same measured idle watts, same boundary."""

import pytest

from tests.support.records_factory import point_record
from tokencost.analysis.sensitivity import sensitivity
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing


@pytest.mark.parametrize("preset", ["hyperscaler-owned", "neocloud-owned"])  # utilisation below 1: idle hours priced
def test_base_equals_the_table_with_measured_idle_watts(preset):
    record = point_record(
        "llama-3.1-8b",
        accelerator="NVIDIA H100 80GB HBM3",
        units=1,
        method="nvml-counter",
        power_w=450.0,
        output_tok_s=1000.0,
    )
    record = record.model_copy(update={"energy": record.energy.model_copy(update={"loaded_idle_power_w": 140.0})})
    catalog, a = load_catalog(), load_assumptions(preset)
    row = Pricing.of(a, catalog).price([record]).offline.iloc[0]
    assert row["idle_power_w_priced"] == 140.0  # measured, not the catalog's 60 W
    table = sensitivity(row.to_dict(), catalog, a)
    assert table.attrs["base"] == pytest.approx(row["total_per_mtok_usd"], rel=1e-12)
