import json

import pandas as pd
import pytest

from tests.records_factory import point_record
from tokencost.assumptions import load_assumptions
from tokencost.report import write_report


@pytest.fixture
def run_dir(tmp_path):
    records = [
        point_record("tiny-dense", "dense", 1, 100.0, 4.0),
        point_record("tiny-dense", "dense", 4, 400.0, 5.0),
        point_record("tiny-moe", "moe", 1, 80.0, 4.0),
        point_record("tiny-moe", "moe", 4, 500.0, 5.0),
    ]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def test_report_writes_csv_markdown_and_png(run_dir):
    write_report(run_dir, load_assumptions())
    table = pd.read_csv(run_dir / "costs.csv")
    assert len(table) == 4
    assert set(table["model"]) == {"tiny-dense", "tiny-moe"}
    markdown = (run_dir / "report.md").read_text()
    assert "$/M output tokens" in markdown and "J/output token" in markdown
    assert "energy estimated (cpu)" in markdown and "tok/s measured" in markdown
    assert "owned-default" in markdown and "Uptime Institute" in markdown
    assert (run_dir / "cost_vs_batch.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cost_falls_as_throughput_rises_at_equal_power(run_dir):
    table = write_report(run_dir, load_assumptions())
    dense = table[table["model"] == "tiny-dense"].set_index("batch_size")
    # 4x the tokens at 1.25x the power: hourly cost barely moves, so $/M falls by almost 4x
    ratio = dense.loc[1, "output_per_mtok_usd"] / dense.loc[4, "output_per_mtok_usd"]
    assert 3.5 < ratio < 4.0
    assert dense.loc[1, "j_per_output_token"] == pytest.approx(4.0 / 100.0)


def test_measured_gpu_energy_is_labelled_measured(tmp_path):
    record = point_record(accelerator="NVIDIA H100 80GB HBM3", units=1, method="nvml-counter", power_w=350.0)
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    table = write_report(tmp_path, load_assumptions())
    assert table.loc[0, "hardware"] == "h100-sxm"
    assert table.loc[0, "label"].startswith("tok/s measured; energy measured [nvml-counter] (gpu)")


def test_failed_points_are_left_out_of_prices_but_listed(tmp_path):
    records = [point_record(), {**point_record(batch=64), "status": "failed", "error": "OOM"}]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    table = write_report(tmp_path, load_assumptions())
    assert len(table) == 1
    assert "1 point(s) failed" in (tmp_path / "report.md").read_text()


def test_moe_is_compared_with_the_dense_model_it_pairs_with(run_dir):
    from tokencost.report import dense_vs_moe

    comparison = dense_vs_moe(write_report(run_dir, load_assumptions()))
    assert list(comparison["batch"]) == [1, 4]
    assert set(comparison["MoE"]) == {"tiny-moe"} and set(comparison["dense"]) == {"tiny-dense"}
    # batch 1: dense 100 tok/s vs MoE 80 tok/s at equal power, so the MoE costs 100/80 as much
    assert comparison.loc[0, "MoE / dense cost"] == pytest.approx(100 / 80, rel=1e-3)
    assert "Dense vs MoE at the same batch size" in (run_dir / "report.md").read_text()
