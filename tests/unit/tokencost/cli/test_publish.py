"""`report` and `gpu-table` never change the folder they read unless told to (--in-place): by default each writes a
new folder under results/runs and prints its path last; -o chooses the folder."""

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.cli import tokencost

PUBLISHED_RUN = REPO / "results" / "2026-11-27-cpu-demo"
# A GPU cost table small enough to build in seconds: one model on one GPU at one shape.
SMALL_TABLE = """[table]
models = ["qwen3-8b"]
gpus = ["h100-sxm"]
shapes = [[1024, 1024]]
batch_sizes = [1, 8]
presets = ["owned"]
main_preset = "owned"
"""


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under `folder`, by its path there, with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def published(tmp_path) -> Path:
    """A copy of a published run, with the report `run` wrote, in results/ of a working directory of its own."""
    run = tmp_path / "results" / PUBLISHED_RUN.name
    shutil.copytree(PUBLISHED_RUN, run)
    return run


def last_line(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_report_leaves_a_published_run_byte_identical_and_prints_its_new_folder(published, tmp_path):
    before = fingerprint(published)
    run = published.relative_to(tmp_path)
    out = Path(last_line(tokencost("report", run, "--preset", "neocloud-owned", cwd=tmp_path)))
    assert fingerprint(published) == before
    assert out.parent == Path("results/runs") and out.name.startswith(f"{published.name}-report-neocloud-owned-")
    assert "Pricing: preset 'neocloud-owned'" in (tmp_path / out / "report.md").read_text()
    assert (tmp_path / out / "index.html").is_file()
    again = Path(last_line(tokencost("report", run, "--preset", "neocloud-owned", cwd=tmp_path)))
    assert again != out and (tmp_path / out / "index.html").is_file()  # a second report is a folder of its own
    assert fingerprint(published) == before


def test_report_out_chooses_the_folder_and_leaves_the_run_as_it_is(published, tmp_path):
    before = fingerprint(published)
    out = tmp_path / "mine"
    assert last_line(tokencost("report", published, "-o", out)) == str(out)
    assert fingerprint(published) == before and (out / "costs.csv").is_file()


def test_report_in_place_rewrites_the_run_directory(published):
    before = fingerprint(published)
    assert last_line(tokencost("report", published, "--in-place", "--preset", "neocloud-owned")) == str(published)
    after = fingerprint(published)
    assert after.keys() == before.keys()
    assert {name for name in after if after[name] != before[name]} >= {"report.md", "costs.csv", "index.html"}
    assert after["records.jsonl"] == before["records.jsonl"]
    assert "Pricing: preset 'neocloud-owned'" in (published / "report.md").read_text()


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["-o", "elsewhere", "--in-place"], "--in-place: not allowed with argument -o/--out"),
        (["SECOND", "--in-place"], "--in-place: writes into one run directory, and 2 were given"),
        (["-o", "results/README.md"], "-o/--out: results/README.md is a file; give a directory"),
    ],
)
def test_report_refuses_what_it_cannot_do_in_one_line(published, tmp_path, argv, field):
    (tmp_path / "results" / "README.md").write_text("published")
    if "SECOND" in argv:
        shutil.copytree(published, tmp_path / "second")
    argv = [str(tmp_path / "second") if a == "SECOND" else a for a in argv]
    before = fingerprint(tmp_path)
    result = tokencost("report", published, *argv, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(f"tokencost: error: {field}"), result.stderr
    assert len(result.stderr.splitlines()) == 1 and fingerprint(tmp_path) == before


def test_report_where_results_runs_cannot_be_made_is_one_line(published, tmp_path):
    (tmp_path / "results" / "runs").write_text("a file where the folder would go")
    before = fingerprint(published)
    result = tokencost("report", published.relative_to(tmp_path), cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("report: ")]  # its progress lines
    assert result.returncode == 2 and len(errors) == 1, result.stderr
    assert errors[0].startswith("tokencost: error: results/runs") and fingerprint(published) == before


TABLE_FILES = [
    "costs.csv",
    "index.html",  # the cost explorer
    "inputs.toml",
    "measured-by-inferencex.csv",
    "measured-by-mlperf.csv",
    "measured-by-others.csv",
    "report.md",
    "service-levels.csv",
    "summary.md",
]


@pytest.fixture
def table(tmp_path) -> Path:
    folder = tmp_path / "results" / "gpu-cost-table"
    folder.mkdir(parents=True)
    (folder / "inputs.toml").write_text(SMALL_TABLE)
    shutil.copy(REPO / "results" / "gpu-cost-table" / "costs.csv", folder / "costs.csv")  # as published
    return folder


def test_gpu_table_leaves_the_published_table_byte_identical_and_prints_its_new_folder(table, tmp_path):
    before = fingerprint(table)
    out = Path(last_line(tokencost("gpu-table", cwd=tmp_path)))  # the published table is the default DIR
    assert fingerprint(table) == before
    assert out.parent == Path("results/runs") and out.name.startswith("gpu-table-")
    assert sorted(fingerprint(tmp_path / out)) == TABLE_FILES
    rebuilt = Path(last_line(tokencost("gpu-table", out, "-o", "again", cwd=tmp_path)))
    assert fingerprint(tmp_path / rebuilt) == fingerprint(tmp_path / out)  # the new folder rebuilds alike


def test_gpu_table_in_place_rewrites_the_table(table, tmp_path):
    before = fingerprint(table)
    assert last_line(tokencost("gpu-table", "--in-place", cwd=tmp_path)) == "results/gpu-cost-table"
    after = fingerprint(table)
    assert sorted(after) == TABLE_FILES
    assert after["costs.csv"] != before["costs.csv"] and after["inputs.toml"] == before["inputs.toml"]
