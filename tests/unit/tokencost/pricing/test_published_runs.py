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


# The catalog's vCPU as it was at d9f421f: its on-demand rate has since moved from an ARM instance (m7g, 0.0408
# per vCPU-hour) to an x86 one (m7i, 0.0504). This test checks the schema migration, so it prices with the old rate.
CPU_VCPU_AT_D9F421F = """[cpu-vcpu]
display_name = "x86 server vCPU"
match = "^CPU \\\\("
memory_gb = { value = 8, source = "unverified", date = "2026" }
bandwidth_tbs = { value = 0.0028, source = "Intel 5th-gen Xeon spec", date = "2023-12" }
bf16_tflops = { value = 1.95, source = "unverified", date = "2023-12" }
tdp_w = { value = 2.73, source = "Tom's Hardware", date = "2023-12" }
price_usd = { value = 90.6, source = "Tom's Hardware", date = "2023-12" }
rental_usd_per_hour = { value = 0.0408, source = "AWS m7g.large", date = "2026-06" }
"""


# The roofline has changed since (logits once per sequence in prefill; an MoE's ceiling is its fewest experts):
# tests/unit/tokencost/pricing/test_roofline.py checks it by hand.
ROOFLINE_COLUMNS = ("roofline_output_tok_s", "roofline_fraction", "decode_bound")


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("preset", PRESETS)
def test_a_published_run_prices_as_it_did(run, preset, tmp_path):
    before = pd.read_csv(BEFORE / f"{run}-{preset}.csv")
    (tmp_path / "cpu-vcpu.toml").write_text(CPU_VCPU_AT_D9F421F)
    catalog = load_catalog(tmp_path / "cpu-vcpu.toml")
    priced = Pricing.of(load_assumptions(preset), catalog).price(read_records(REPO / "results" / run))
    now = pd.read_csv(pd.io.common.StringIO(priced.merged().to_csv(index=False)))  # as `price --csv` writes it
    assert len(now) == len(before) > 0
    for column in before.columns:
        if column in ROOFLINE_COLUMNS:
            continue
        if column == "batch_size" and (before["mode"] == "serve").all():
            # schema 2 kept a serving point's concurrency in its batch size; it is now its own column
            assert now["concurrency"].tolist() == before["batch_size"].tolist() and now[column].isna().all()
        elif pd.api.types.is_numeric_dtype(before[column]):
            assert now[column].to_numpy() == pytest.approx(before[column].to_numpy(), rel=1e-12, nan_ok=True), column
        elif column == "label":
            # the label now also says the power boundary: the GPU-only floor both presets price at, as before
            assert now[column].str.contains("; power: gpu boundary, a floor;", regex=False).all()
            assert now[column].str.replace("; power: gpu boundary, a floor", "").tolist() == before[column].tolist()
        else:
            assert now[column].fillna("").tolist() == before[column].fillna("").tolist(), column


def test_a_record_without_total_throughput_is_priced_from_its_token_counts(pricing):
    from tests.support.records_factory import point_record

    record = point_record(output_tok_s=100.0)  # 1000 input and 1000 output tokens over 10 s
    record = record.model_copy(update={"total_tok_s": None})
    table = pricing.price([record]).merged()
    assert table["total_tok_s"].iloc[0] == 200.0
