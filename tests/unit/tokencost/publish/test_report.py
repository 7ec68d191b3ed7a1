"""A report of one run from factory records: tables, the input/output split, labels, failures."""

import pandas as pd
import pytest

from bench.inputs.cards import load_card
from tests.support.records_factory import point_record, write_run
from tokencost.analysis.pairs import offline_moe_vs_dense
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.roofline import ceiling, hardware_of
from tokencost.publish.write import write_report


@pytest.fixture
def run_dir(tmp_path):
    return write_run(
        tmp_path,
        *[
            point_record("tiny-dense", "dense", 1, 100.0, 4.0, prefill_s=2.0),
            point_record("tiny-dense", "dense", 4, 400.0, 5.0, prefill_s=2.0),
            point_record("tiny-moe", "moe", 1, 80.0, 4.0, prefill_s=2.0),
            point_record("tiny-moe", "moe", 4, 500.0, 5.0, prefill_s=2.0),
        ],
    )


def test_report_writes_tables_and_plots(run_dir, pricing):
    write_report(run_dir, pricing)
    table = pd.read_csv(run_dir / "costs.csv")
    assert len(table) == 4 and set(table["model"]) == {"tiny-dense", "tiny-moe"}
    for column in (
        "total_per_mtok_usd",
        "input_per_mtok_usd",
        "output_per_mtok_usd",
        "split_method",
        "capital_share",
        "energy_share",
        "hosting_share",
        "api_per_mtok_usd",
        "assumptions_hash",
    ):
        assert table[column].notna().all(), column
    markdown = (run_dir / "report.md").read_text()
    for text in (
        "$/M input",
        "prefill-probe",
        "energy estimated (cpu)",
        "tok/s measured",
        "preset 'owned'",
        "Uptime Institute",
        "Break-even volume against GPT-4o mini",
        "$0.10 per million tokens",
        "Sensitivity",
        "Dense vs MoE at matched settings",
        "Xeon Platinum 8592+",
    ):
        assert text in markdown, text
    for name in ("cost_vs_batch.png", "sensitivity.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the tiny cards on the catalog's vCPU figures have a roofline: measured tok/s over the ceiling
    first = table.iloc[0]
    roof = ceiling(
        load_card(first["model"]).config,
        hardware_of(find_hardware("cpu-vcpu", load_catalog()), 2),
        int(first["batch_size"]),
        16,
        16,
    )
    assert first["roofline_fraction"] == pytest.approx(first["output_tok_s"] / roof.output_tok_s)
    assert table["roofline_fraction"].notna().all() and "of roofline" in markdown
    assert (run_dir / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the factory's 10 s points are shorter than the 30 s minimum window
    assert (table["checks"] == "failed: window_length").all() and "failed: window_length" in markdown


def test_prefill_probe_split_reproduces_the_total_spend(run_dir, pricing):
    table = write_report(run_dir, pricing).offline
    row = table.iloc[0]  # 10 s point, 2 s of it prefill
    assert row["input_time_share"] == pytest.approx(0.2)
    spend = row["hourly_usd"] * row["duration_s"] / 3600
    attributed = (
        row["input_tokens"] * row["input_per_mtok_usd"] + row["output_tokens"] * row["output_per_mtok_usd"]
    ) / 1e6
    assert attributed == pytest.approx(spend)


def test_cost_falls_as_throughput_rises_at_equal_power(run_dir, pricing):
    dense = write_report(run_dir, pricing).offline.query("model == 'tiny-dense'").set_index("batch_size")
    # 4x the tokens at 1.25x the power: the hour costs about the same, so $/M falls by almost 4x
    ratio = dense.loc[1, "total_per_mtok_usd"] / dense.loc[4, "total_per_mtok_usd"]
    assert 3.5 < ratio < 4.0
    assert dense.loc[1, "j_per_output_token"] == pytest.approx(4.0 / 100.0)


def test_moe_is_compared_with_the_dense_model_it_pairs_with(run_dir, pricing):
    comparison = offline_moe_vs_dense(write_report(run_dir, pricing).offline)
    assert list(comparison["batch"]) == [1, 4]
    # batch 1: dense 200 tok/s in+out vs MoE 160 at equal power, so the MoE costs 200/160 as much
    assert comparison.iloc[0]["MoE / dense cost"] == pytest.approx(200 / 160, rel=1e-3)


def test_measured_gpu_energy_is_labelled_measured_and_priced_with_the_preset(tmp_path):
    record = point_record(accelerator="NVIDIA H100 80GB HBM3", units=1, method="nvml-counter", power_w=350.0)
    pricing = Pricing.of(load_assumptions("inferencex-hyperscaler"), load_catalog(), "deepseek-v3")
    table = write_report(write_run(tmp_path, record), pricing).offline
    row = table.iloc[0]
    assert row["hardware"] == "h100-sxm" and row["rental_usd_per_h"] == pytest.approx(1.17)
    assert row["label"].startswith("tok/s measured; energy measured [nvml-counter] (gpu)")
    assert row["api"] == "deepseek-v3" and row["api_per_mtok_usd"] == pytest.approx((0.27 + 1.10) / 2)
    assert row["split_method"] == "whole-hour (not split)"


def test_failed_points_are_left_out_of_prices_but_listed(tmp_path, pricing):
    records = [point_record(), point_record(batch=64, status="failed", error="OOM")]
    table = write_report(write_run(tmp_path, *records), pricing).offline
    assert len(table) == 1
    assert "1 point(s) failed" in (tmp_path / "report.md").read_text()


def test_a_run_where_every_point_failed_still_gets_a_report(tmp_path, pricing):
    records = [point_record(batch=b, status="failed", error="timeout") for b in (1, 2)]
    table = write_report(write_run(tmp_path, *records), pricing).offline
    assert table.empty
    report = (tmp_path / "report.md").read_text()
    assert "No point was measured successfully" in report and "2 point(s) failed" in report
