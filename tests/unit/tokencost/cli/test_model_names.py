"""A model is named the same way on every command: `run --models` and `project --model` accept the same things (a
card of the models folder, a card folder anywhere, a Hugging Face id from the local cache) and refuse the same."""

import json
import os
import shutil

import pandas as pd
import pytest

from bench.inputs.cards import default_models_dir
from tests.support.hub_cache import cache_config
from tests.support.records_factory import point_record, write_run
from tests.unit.tokencost.cli.test_hostile_review import no_engine_starts, one_line_error, tokencost


@pytest.fixture
def world(tmp_path, monkeypatch, offline_hub):
    """A working directory of its own, holding a copy of tiny-moe in cards/; the Hugging Face cache holds it too."""
    shutil.copytree(default_models_dir() / "tiny-moe", tmp_path / "cards" / "tiny-moe")
    cache_config(offline_hub, "someone/tiny-moe", default_models_dir() / "tiny-moe" / "config.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


NAMES = {  # each way to name tiny-moe, and the name its points are keyed by
    "card": ("tiny-moe", "tiny-moe"),
    "card folder by path": (str(default_models_dir() / "tiny-moe"), "tiny-moe"),
    "folder elsewhere": ("./cards/tiny-moe", None),  # its absolute path
    "hugging face id": ("someone/tiny-moe", "someone/tiny-moe"),
}


@pytest.mark.parametrize("way", list(NAMES))
def test_run_and_project_accept_the_same_names(world, way, capsys):
    name, key = NAMES[way]
    code, out, err = tokencost(capsys, "project", "--model", name, "--gpu", "h100-sxm", "--batch-sizes", "1")
    assert code == 0, err
    code, out, err = tokencost(capsys, "run", "--dry-run", "--models", name, "--batch-sizes", "1")
    assert code == 0, err
    key = key or str((world / "cards" / "tiny-moe").resolve())
    assert f"  {key}/vllm/batch1/" in out  # the points are keyed by the name that loads the card again


@pytest.mark.parametrize("name", ["no-such-card", "./cards/nothing-here", "nobody/uncached"])
def test_run_and_project_refuse_the_same_names_alike(world, name, capsys):
    project = one_line_error(capsys, "--model:", "project", "--model", name, "--gpu", "h100-sxm")
    run = one_line_error(capsys, "--models:", "run", "--dry-run", "--models", name)
    assert project.removeprefix("tokencost: error: --model:") == run.removeprefix("tokencost: error: --models:")


def test_a_card_folder_elsewhere_is_measured_and_priced_under_its_path(world, capsys, monkeypatch):
    """Its records are keyed by its absolute path, which pricing loads the card by again: its roofline is its own,
    not that of the models folder's card of the same folder name."""
    from bench.run.records import read_records

    no_engine_starts(monkeypatch)
    folder = world / "cards" / "tiny-moe"
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"num_hidden_layers": 4 * config["num_hidden_layers"]}))
    argv = ["--models", "./cards/tiny-moe", "--engines", "vllm", "--batch-sizes", "1", "--min-window-s", "0"]
    code, _, err = tokencost(capsys, "run", *argv, "--out", "run")
    assert code == 2 and "engine: cannot start here" in err, err
    path = str(folder.resolve())
    (record,) = read_records(world / "run")
    assert record.point == f"{path}/vllm/batch1/isl128/osl128" and record.model.name == path
    write_run(
        world / "measured",
        point_record(model=path, kind="moe"),
        point_record(model="tiny-moe", kind="moe", batch=2),
    )
    code, _, err = tokencost(capsys, "price", world / "measured", "--csv", "costs.csv")
    assert code == 0, err
    roofline = pd.read_csv("costs.csv").set_index("model")["roofline_output_tok_s"]
    assert roofline.notna().all() and roofline[path] < roofline["tiny-moe"] / 2


@pytest.mark.subprocess
def test_the_console_script_finds_a_cached_id_offline_and_names_the_fix_for_one_it_lacks(tmp_path):
    from tests.support.run_cli import tokencost as console_script

    cache_config(tmp_path / "hf", "someone/qwen", default_models_dir() / "qwen3-8b" / "config.json")
    env = os.environ | {"HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    found = console_script("project", "--model", "someone/qwen", "--gpu", "h100-sxm", env=env)
    assert found.returncode == 0 and found.stdout.startswith("someone/qwen on 1 x h100-sxm"), found.stderr
    missing = console_script("project", "--model", "someone/other", "--gpu", "h100-sxm", env=env)
    assert missing.returncode == 2 and missing.stderr.splitlines() == [
        "tokencost: error: --model: someone/other is no folder here and not in the local Hugging Face cache "
        "(HF_HUB_OFFLINE is set); run the command once online to fetch its config.json, or give a local card folder"
    ]
