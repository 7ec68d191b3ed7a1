"""The published GPU cost table rebuilds from its committed inputs, and every row says what it is."""

import pandas as pd
import pytest

from bench.errors import UserError
from bench.inputs.tiers import shipped_tiers
from tests.support import REPO
from tokencost.analysis.service_level import FLOOR, NOT_REACHABLE, meets
from tokencost.publish.gpu_table import LEVELS_FILE, MEASURED_BY, MEASURED_FILE, PROJECTED_FILE, read_inputs
from tokencost.publish.peer_tables import PEERS

PUBLISHED = REPO / "results" / "gpu-cost-table"


@pytest.fixture(scope="module")
def rebuilt(rebuilt_gpu_table):
    return rebuilt_gpu_table


@pytest.mark.parametrize(
    "name", [PROJECTED_FILE, MEASURED_FILE, *(peer.file for peer in PEERS), LEVELS_FILE, "report.md", "summary.md"]
)
def test_the_published_table_is_what_its_inputs_give(rebuilt, name):
    assert (rebuilt / name).read_text() == (PUBLISHED / name).read_text(), (
        f"results/gpu-cost-table/{name} is stale: run `tokencost gpu-table --in-place`"
    )


def test_each_table_holds_one_basis_and_every_row_says_which():
    projected, measured = pd.read_csv(PUBLISHED / PROJECTED_FILE), pd.read_csv(PUBLISHED / MEASURED_FILE)
    assert (projected["basis"] == "projected").all() and (measured["basis"] == "measured by ML.ENERGY").all()
    assert projected["label"].str.startswith("projected: ").all()
    assert measured["label"].str.startswith(MEASURED_BY).all() and len(measured) == 92
    assert projected["error_band"].notna().all()  # no projection without its band
    assert not projected["label"].str.contains("measured", case=False).any()
    assert projected["token_definition"].nunique() == 1 and measured["token_definition"].nunique() == 1
    assert measured["usd_per_m_total owned"].isna().all()  # they publish output tokens only: no total


def test_the_summary_sets_each_basis_in_its_own_table_under_its_own_heading():
    text = (PUBLISHED / "summary.md").read_text()
    projected, measured = text.split("**Measured by ML.ENERGY")
    assert projected.startswith("**Projected by tokencost**") and "**Projected" not in measured
    for heading, words in (
        (projected, ["ISL/OSL 1024/1024", "Batch rule", "power at TDP", "$/M input + output tokens"]),
        (measured, ["LMArena chat", "batch rule", "GPU power measured", "$/M output tokens"]),
    ):
        assert all(w in heading.split("\n")[0] for w in words), words  # the workload, batch rule, power, token basis
    assert "projected/measured" in measured and "projected/measured" not in projected.split("\n", 1)[1]


def test_every_tier_answer_is_the_cheapest_projected_point_that_keeps_it_over_every_gpu_count():
    projected, levels = pd.read_csv(PUBLISHED / PROJECTED_FILE), pd.read_csv(PUBLISHED / LEVELS_FILE)
    tiers = shipped_tiers()
    assert set(levels["tier"]) == {FLOOR, *tiers} and (levels["basis"] == "projected").all()
    assert levels.loc[levels["status"] != NOT_REACHABLE, "label"].str.startswith("projected: ").all()
    keys = ["model", "hardware", "precision", "isl", "osl"]
    for answer in levels.to_dict("records"):
        rows = projected[(projected[keys] == pd.Series({k: answer[k] for k in keys})).all(axis=1)]
        keeping = (
            rows
            if answer["tier"] == FLOOR
            else rows[meets(tiers[answer["tier"]], rows["tok_s_per_user"], rows["ttft_ms"])]
        )
        if answer["status"] == NOT_REACHABLE:
            assert keeping.empty, answer
            continue
        best = keeping["usd_per_m_total owned"].min()
        assert answer["usd_per_m_total owned"] == pytest.approx(best, rel=1e-5), answer
        assert (
            answer["accelerator_count"] == keeping.loc[keeping["usd_per_m_total owned"].idxmin(), "accelerator_count"]
        )


def test_the_gpu_count_is_an_axis_and_a_kv_starved_dense_model_gets_more_gpus():
    projected, levels = pd.read_csv(PUBLISHED / PROJECTED_FILE), pd.read_csv(PUBLISHED / LEVELS_FILE)
    assert (projected.loc[projected["accelerator_count"] > 1, "label"].str.contains("an assumption")).all()
    projected, levels = projected[projected["precision"] == "bf16"], levels[levels["precision"] == "bf16"]
    counts = projected.groupby(["model", "hardware", "isl"])["accelerator_count"].unique()
    assert sorted(counts["llama-3.1-8b", "h100-sxm", 1024]) == [1, 2, 4, 8]
    assert sorted(counts["mixtral-8x7b", "h100-sxm", 1024]) == [2, 4, 8]  # 93 GB of BF16 weights: not on one
    # Qwen3-32B on one 80 GB H100 holds a few dozen sequences: its floor is on more GPUs than that
    floor = levels[(levels["tier"] == FLOOR) & (levels["isl"] == 1024)].set_index(["model", "hardware"])
    assert floor.loc[("qwen3-32b", "h100-sxm"), "accelerator_count"] > 1


def test_projections_stop_at_the_batch_that_fits():
    projected = pd.read_csv(PUBLISHED / PROJECTED_FILE)
    assert (projected["batch_size"] <= projected["max_batch"]).all()
    # Qwen3-32B on one 80 GB GPU holds a few dozen sequences of 2,048 tokens, not 1,024
    h100 = projected[
        (projected["precision"] == "bf16")
        & (projected["model"] == "qwen3-32b")
        & (projected["hardware"] == "h100-sxm")
        & (projected["isl"] == 1024)
        & (projected["accelerator_count"] == 1)
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


def test_every_projected_row_carries_its_regime_and_band_or_says_it_has_none(rebuilt):
    projected = pd.read_csv(rebuilt / PROJECTED_FILE)
    banded = projected["projected_output_tok_s_low"].notna()
    assert banded.any() and (banded == projected["projected_output_tok_s_high"].notna()).all()
    rows = projected[banded]
    assert (rows["projected_output_tok_s_low"] <= rows["projected_output_tok_s_high"]).all()
    assert projected["regime"].notna().all()
    assert projected.loc[~banded, "band_basis"].str.startswith("no held-out data for this regime").all()
    assert (projected.loc[projected["hardware"] == "h200", "regime"] == "borrowed calibration").all()
