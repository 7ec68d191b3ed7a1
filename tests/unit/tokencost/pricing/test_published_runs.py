"""The runs committed under results/ load through today's schema and price to the same numbers as before it.

tests/fixtures/priced-before-schema-3 holds their priced tables as tokencost priced them at commit d9f421f,
from schema 2 records; today's code migrates those records on read and must give every figure again.
"""

import pandas as pd
import pytest

from bench.run.records import read_records
from tests.support import FIXTURES, REPO
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing

BEFORE = FIXTURES / "priced-before-schema-3"
RUNS = ("2026-11-27-cpu-demo", "2026-11-28-cpu-serve-demo")
PRESETS = ("owned", "on-demand-rental")


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("preset", PRESETS)
def test_a_published_run_prices_as_it_did(run, preset):
    before = pd.read_csv(BEFORE / f"{run}-{preset}.csv")
    priced = Pricing.of(load_assumptions(preset), load_catalog()).price(read_records(REPO / "results" / run))
    now = pd.read_csv(pd.io.common.StringIO(priced.merged().to_csv(index=False)))  # as `price --csv` writes it
    assert len(now) == len(before) > 0
    for column in before.columns:
        if column == "batch_size" and (before["mode"] == "serve").all():
            # schema 2 kept a serving point's concurrency in its batch size; it is now its own column
            assert now["concurrency"].tolist() == before["batch_size"].tolist() and now[column].isna().all()
        elif pd.api.types.is_numeric_dtype(before[column]):
            assert now[column].to_numpy() == pytest.approx(before[column].to_numpy(), rel=1e-12, nan_ok=True), column
        else:
            assert now[column].fillna("").tolist() == before[column].fillna("").tolist(), column


def test_a_record_without_total_throughput_is_priced_from_its_token_counts(pricing):
    from tests.support.records_factory import point_record

    record = point_record(output_tok_s=100.0)  # 1000 input and 1000 output tokens over 10 s
    record = record.model_copy(update={"total_tok_s": None})
    table = pricing.price([record]).merged()
    assert table["total_tok_s"].iloc[0] == 200.0
