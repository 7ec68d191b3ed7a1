"""The published GPU cost table rebuilds from its committed inputs, and every row says what it is."""

import shutil

import pandas as pd
import pytest

from bench.errors import UserError
from tests.support import REPO
from tokencost.publish.gpu_table import MEASURED_BY, read_inputs, write

PUBLISHED = REPO / "results" / "gpu-cost-table"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    shutil.copy(PUBLISHED / "inputs.toml", folder / "inputs.toml")
    write(folder)
    return folder


@pytest.mark.parametrize("name", ["costs.csv", "report.md", "summary.md"])
def test_the_published_table_is_what_its_inputs_give(rebuilt, name):
    assert (rebuilt / name).read_text() == (PUBLISHED / name).read_text(), (
        f"results/gpu-cost-table/{name} is stale: run `tokencost gpu-table --in-place`"
    )


def test_every_row_is_projected_or_measured_by_someone_named():
    table = pd.read_csv(PUBLISHED / "costs.csv")
    projected = table["basis"] == "projected"
    assert table.loc[projected, "label"].str.startswith("projected: ").all()
    assert table.loc[~projected, "label"].str.startswith(MEASURED_BY).all()
    assert projected.sum() > 0 and (~projected).sum() == 92
    assert table.loc[projected, "error_band"].notna().all()  # no projection without its band
    assert not table["label"].str.contains("measured", case=False)[projected].any()


def test_projections_stop_at_the_batch_that_fits():
    table = pd.read_csv(PUBLISHED / "costs.csv")
    projected = table[table["basis"] == "projected"]
    assert (projected["batch_size"] <= projected["max_batch"]).all()
    # Qwen3-32B on one 80 GB GPU holds a few dozen sequences of 2,048 tokens, not 1,024
    h100 = projected[
        (projected["model"] == "qwen3-32b") & (projected["hardware"] == "h100-sxm") & (projected["isl"] == 1024)
    ]
    assert h100["batch_size"].max() < 64


def test_results_readme_carries_the_table():
    readme = (REPO / "results" / "README.md").read_text()
    assert (PUBLISHED / "summary.md").read_text().strip() in readme
    assert "gpu-cost-table/report.md" in readme


def test_a_folder_without_inputs_is_one_line(tmp_path):
    with pytest.raises(UserError, match="inputs.toml"):
        read_inputs(tmp_path)
    (tmp_path / "inputs.toml").write_text("[table]\nmodels = 3\n")
    with pytest.raises(UserError, match=r"inputs.toml table.models: is 3; input should be a valid list"):
        read_inputs(tmp_path)
