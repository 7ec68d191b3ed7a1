"""results/ as a publication: its README lists the published runs, and nothing too large or unpublishable is in it."""

import shutil
from pathlib import Path

from tests.conftest import CPU_DEMO
from tests.support import REPO
from tests.support.cli import tokencost
from tests.support.records_factory import synthetic_h100_records, write_run
from tokencost.publish.results_index import SIZE_LIMIT_BYTES, index_markdown, publication_problems


def _results(tmp_path: Path) -> Path:
    """A results folder: the CPU demo (real records) and a SYNTHETIC H100 run, beside local runs and baselines."""
    results = tmp_path / "results"
    cpu = shutil.copytree(CPU_DEMO, results / "2026-11-27-cpu-demo")
    (cpu / "report.md").write_text("report")
    (cpu / "index.html").write_text("page")
    h100 = write_run(results / "2026-11-28-synthetic-h100", *synthetic_h100_records())
    (h100 / "about.md").write_text("Synthetic numbers,\nmade up for a test.\n")
    write_run(results / "runs" / "local", *synthetic_h100_records()[:1])
    write_run(results / "baselines" / "ci", *synthetic_h100_records()[:1])
    return results


def test_index_lists_each_published_run_with_what_where_when_and_its_cheapest_cost(tmp_path, pricing):
    readme = index_markdown(_results(tmp_path), pricing)
    assert readme.startswith("# Published runs") and "`tokencost index`" in readme
    rows = [line for line in readme.splitlines() if line.startswith("| 2026-")]
    assert [r.split("|")[1].strip() for r in rows] == ["2026-11-27-cpu-demo", "2026-11-28-synthetic-h100"]
    cpu, h100 = rows
    for text in (
        "tiny-dense (dense), tiny-moe (moe)",
        "batch 1, 4, 16, 64",
        "ISL 128 / OSL 128",
        "dummy weights",
        "mode offline",
        "transformers 5.19.0, vllm 0.32.0",
        "CPU (Intel(R) Xeon(R) Processor) x 2",
        "2026-11-27",
        "[report.md](2026-11-27-cpu-demo/report.md)",
        "[index.html](2026-11-27-cpu-demo/index.html)",
        "$0.0002357 per million tokens: tiny-moe (moe), vllm, batch 64",
        "(tok/s measured; energy estimated (cpu);",
        "$ estimated from 'owned')",
    ):
        assert text in cpu, text
    assert "NVIDIA H100 80GB HBM3 x 1" in h100 and "energy measured [nvml-counter] (gpu)" in h100
    assert "| -" in h100  # no report written for it yet
    assert "**2026-11-28-synthetic-h100**: Synthetic numbers, made up for a test." in readme
    assert "No GPU-measured run is published yet." not in readme  # the synthetic run says nvml-counter


def test_timelines_and_large_files_are_flagged_but_local_runs_are_not(tmp_path):
    results = _results(tmp_path)
    (results / "2026-11-27-cpu-demo" / "timeline.jsonl").write_text("{}\n")
    with (results / "2026-11-27-cpu-demo" / "big.csv").open("wb") as f:
        f.truncate(SIZE_LIMIT_BYTES + 1)
    with (results / "runs" / "local" / "huge.csv").open("wb") as f:
        f.truncate(2 * SIZE_LIMIT_BYTES)
    problems = publication_problems(results)
    assert len(problems) == 2
    assert problems[0].startswith("2026-11-27-cpu-demo/big.csv: 5.0 MB is over the 5.0 MB limit")
    assert problems[1].startswith("2026-11-27-cpu-demo/timeline.jsonl: power timelines are not published")

    result = tokencost("index", results)
    assert result.returncode == 1
    assert "big.csv" in result.stderr and "2 file(s) in" in result.stderr
    assert (results / "README.md").read_text().startswith("# Published runs")  # written all the same


def test_server_logs_are_flagged(tmp_path):
    results = _results(tmp_path)
    (results / "2026-11-27-cpu-demo" / "server-tiny-dense.log").write_text("$ /home/someone/.venv/bin/python ...\n")
    (problem,) = publication_problems(results)
    assert problem.startswith("2026-11-27-cpu-demo/server-tiny-dense.log: server logs are not published")


def test_cli_index_writes_the_readme(tmp_path):
    results = _results(tmp_path)
    result = tokencost("index", results)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Index: {results / 'README.md'}"
    assert "2026-11-28-synthetic-h100" in (results / "README.md").read_text()


def test_published_results_are_small_and_their_readme_is_current(pricing):
    results = REPO / "results"
    oversized = [
        str(p.relative_to(results))
        for p in results.rglob("*")
        if p.is_file() and p.relative_to(results).parts[0] != "runs" and p.stat().st_size > SIZE_LIMIT_BYTES
    ]
    assert oversized == []
    assert publication_problems(results) == []
    assert (results / "README.md").read_text() == index_markdown(results, pricing), (
        "results/README.md is out of date: run `tokencost index`"
    )


def test_the_index_leads_with_the_gpu_explorer_where_it_is_published(tmp_path, pricing):
    results = _results(tmp_path)
    assert "The GPU answer" not in index_markdown(results, pricing)
    (results / "gpu-cost-table").mkdir()
    (results / "gpu-cost-table" / "index.html").write_text("<!doctype html>")
    title, lead, *_ = index_markdown(results, pricing).split("\n\n")
    assert title == "# Published runs"
    assert lead.startswith("**The GPU answer**: open [gpu-cost-table/index.html](gpu-cost-table/index.html)")
