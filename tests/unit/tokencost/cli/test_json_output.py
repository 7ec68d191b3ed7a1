"""`--json` on every command that prints a table or a verdict: one JSON document on stdout and nothing else there,
named by its schema, no NaN, and the same figures as the text the command prints without it."""

import json
import logging
import math
import os
import re
import shutil
import tomllib

import numpy as np
import pandas as pd
import pytest

from bench import console
from bench.inputs.cards import default_models_dir, list_card_names, load_card
from bench.inputs.tiers import SHIPPED_TIERS
from tests.conftest import CPU_DEMO
from tests.support import FIXTURES, REPO
from tests.support.cli import tokencost
from tests.support.records_factory import point_record, write_run
from tokencost.cli.args import build_parser
from tokencost.cli.json_output import emit, plain, stdout_for_json
from tokencost.pricing.assumptions import preset_names

SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"
QUOTE = ["quote", "--gpu", "h100-sxm", "--tok-s", "1000"]
PROJECT = ["project", "--model", "qwen3-30b-a3b", "--gpu", "h200"]


def _refuse(constant: str):
    raise AssertionError(f"{constant} in a JSON document: a missing figure is null")


def document(*args, code: int = 0) -> dict:
    """`tokencost ARGS --json`: exit code `code`, and stdout exactly one JSON document (no NaN or Infinity)."""
    result = tokencost(*args, "--json")
    assert result.returncode == code, result.stderr[-2000:]
    data = json.loads(result.stdout, parse_constant=_refuse)  # raises if anything else is on stdout
    assert data["schema"] == f"tokencost.{args[0]}/1"
    return data


# One invocation of each command that takes --json.
INVOCATIONS = {
    "quote": QUOTE,
    "price": ["price", CPU_DEMO],
    "project": PROJECT,
    "claims": ["claims", CPU_DEMO],
    "models": ["models"],
    "presets": ["presets"],
    "tiers": ["tiers"],
    "compare": ["compare", CPU_DEMO, CPU_DEMO],
    "doctor": ["doctor"],
}


@pytest.fixture
def quick_doctor(monkeypatch):
    """doctor without its torch child process (seconds to minutes), measuring the memory bandwidth once."""
    from bench import memory_bandwidth
    from bench.energy import doctor

    monkeypatch.setattr(doctor, "probe_torch", lambda env: {"error": "not installed"})
    measured = memory_bandwidth.measure()
    monkeypatch.setattr(memory_bandwidth, "measure", lambda: measured)


def test_every_command_that_prints_a_table_or_verdict_takes_json():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    with_json = {name for name, command in commands.items() if "--json" in command._option_string_actions}
    assert with_json == set(INVOCATIONS)


@pytest.mark.parametrize("command", list(INVOCATIONS))
def test_the_commands_page_documents_each_field_of_each_schema(command, quick_doctor):
    data = document(*INVOCATIONS[command])
    section = (REPO / "docs" / "commands.md").read_text()
    row = next(line for line in section.splitlines() if line.startswith(f"| `tokencost.{command}/1` |"))
    shared = {"schema", "preset", "api"}  # stated once, above the table
    assert [key for key in data if key not in shared and f"`{key}`" not in row] == []


def test_quote_json_holds_the_figures_the_text_prints():
    data = document(*QUOTE)
    text = tokencost(*QUOTE).stdout
    printed = float(re.search(r"\$/M input\+output tokens: ([\d.]+)", text).group(1))
    assert data["usd_per_mtok"]["total"] == pytest.approx(printed, rel=1e-3)
    assert data["usd_per_mtok"]["total"] == pytest.approx(0.2921, rel=1e-3)  # docs/commands.md's example
    assert data["usd_per_hour"]["total"] == pytest.approx(1.0517, rel=1e-3)
    assert data["usd_per_hour"]["total"] == pytest.approx(sum(data["usd_per_hour"][c] for c in ("capital", "energy")))
    assert data["usd_per_mtok"]["total"] == pytest.approx(data["usd_per_hour"]["total"] / 3600 / 1000 * 1e6)
    assert data["tok_s"] == {"total": 1000.0, "input": 500.0, "output": 500.0}
    assert data["power"]["gpu_w"] == 700.0 and data["power"]["gpu_w_method"] == "estimated (TDP)"
    assert data["j_per_token"] == pytest.approx(0.7) and data["j_per_output_token"] == pytest.approx(1.4)
    assert data["usd_per_mtok"]["input"] is None  # not split without --input-share
    assert data["preset"]["name"] == "owned" and data["api"]["key"] == "gpt-4o-mini"
    assert data["times_api"] == pytest.approx(data["usd_per_mtok"]["total"] / data["api_usd_per_mtok"])


def test_quote_json_splits_input_and_output_with_an_input_share():
    data = document(*QUOTE, "--input-share", "0.2", "--watts", "600")
    hour = data["usd_per_hour"]["total"]
    assert data["usd_per_mtok"]["input"] == pytest.approx(hour * 0.2 / (500 * 3600) * 1e6)
    assert data["usd_per_mtok"]["output"] == pytest.approx(hour * 0.8 / (500 * 3600) * 1e6)
    assert data["power"]["gpu_w"] == 600.0 and data["power"]["gpu_w_method"] == "given"


def test_price_json_rows_are_the_csv_rows_with_null_for_missing(tmp_path):
    result = tokencost("price", CPU_DEMO, "--csv", tmp_path / "costs.csv", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout, parse_constant=_refuse)
    assert f"Table: {tmp_path / 'costs.csv'}" in result.stderr  # not on stdout
    table = pd.read_csv(tmp_path / "costs.csv")
    assert len(data["offline"]) == len(table) == 16 and data["serving"] == []
    assert list(data["offline"][0]) == list(table.columns)
    assert [r["total_per_mtok_usd"] for r in data["offline"]] == pytest.approx(list(table["total_per_mtok_usd"]))
    assert [r["batch_size"] for r in data["offline"]] == list(table["batch_size"])  # numbers as numbers
    missing = table["prefix_hit_rate"].isna()
    assert missing.all() and all(r["prefix_hit_rate"] is None for r in data["offline"])


def test_price_json_of_a_serving_run_has_its_serving_rows():
    data = document("price", SERVE_DEMO)
    assert data["offline"] == [] and len(data["serving"]) == 6
    assert all(r["mode"] == "serve" and r["total_per_mtok_usd"] > 0 for r in data["serving"])


def test_price_json_of_a_result_file_of_another_tool():
    data = document("price", FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json", "--gpu", "h100-sxm")
    (row,) = data["serving"]
    assert row["hardware"] == "h100-sxm" and row["concurrency"] == 16


def test_project_json_rows_are_the_csv_rows_and_the_printed_ones(tmp_path):
    data = document(*PROJECT, "--csv", tmp_path / "projected.csv")
    table = pd.read_csv(tmp_path / "projected.csv")
    assert [r["batch_size"] for r in data["rows"]] == list(table["batch_size"]) == [1, 8, 32, 128]
    assert [r["projected_total_per_mtok_usd"] for r in data["rows"]] == pytest.approx(
        list(table["projected_total_per_mtok_usd"])
    )
    assert all(r["label"].startswith("projected: ") for r in data["rows"])
    text = tokencost(*PROJECT).stdout
    first = next(line for line in text.splitlines() if line.startswith("|") and line.split("|")[1].strip() == "1")
    assert float(first.split("|")[-2]) == pytest.approx(data["rows"][0]["projected_total_per_mtok_usd"], rel=1e-3)
    assert data["efficiency"]["value"] is None and "calibration" in data["efficiency"]["source"]
    assert data["notes"] and "fitted on h100-sxm" in data["notes"][0]  # h200 takes h100-sxm's calibration


def test_project_json_with_a_given_efficiency():
    data = document(*PROJECT, "--efficiency", "0.4", "--isl", "512", "--osl", "256")
    assert data["efficiency"] == {"value": 0.4, "source": "given on the command line"}
    assert (data["isl"], data["osl"]) == (512, 256)
    assert all(r["error_band"] is None for r in data["rows"])  # no held-out error for a given efficiency


def test_claims_json_holds_each_claims_verdict():
    data = document("claims", CPU_DEMO)
    text = tokencost("claims", CPU_DEMO).stdout
    printed = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("|")]
    assert [[c["claim"], c["verdict"], c["evidence"]] for c in data["claims"]] == printed[2:]  # below the header
    assert len(data["claims"]) == 5 and data["claims"][1]["projection"].startswith("PROJECTED")
    assert data["runs"] == [str(CPU_DEMO)] and data["serving_only"] is False


def test_claims_json_writes_claims_md_and_says_so_on_stderr(tmp_path):
    result = tokencost("claims", CPU_DEMO, "-o", tmp_path, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["claims"]
    assert (tmp_path / "claims.md").exists() and "Claims:" in result.stderr


def test_models_json_holds_every_card_with_its_computed_parameters():
    data = document("models")
    assert [m["name"] for m in data["models"]] == list_card_names()
    for model in data["models"]:
        card = load_card(model["name"])
        assert (model["total_params"], model["active_params"]) == (card.params.total, card.params.active)
        assert model["kind"] == card.kind and model["broken"] is None


def test_models_json_names_a_broken_card_and_exits_1(tmp_path):
    models = tmp_path / "models"
    for name in ("tiny-dense", "tiny-moe"):
        shutil.copytree(default_models_dir() / name, models / name)
    config = json.loads((models / "tiny-moe" / "config.json").read_text())
    del config["num_hidden_layers"]
    (models / "tiny-moe" / "config.json").write_text(json.dumps(config))
    result = tokencost("models", "--json", env=os.environ | {"TOKENCOST_MODELS_DIR": str(models)})
    assert result.returncode == 1, result.stderr
    listed = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    assert listed["tiny-moe"] == {
        "name": "tiny-moe",
        "broken": "tiny-moe/config.json num_hidden_layers: is None; give a positive integer",
    }
    assert listed["tiny-dense"]["broken"] is None and listed["tiny-dense"]["total_params"] == 6555904


def test_presets_json_lists_every_preset_with_its_assumptions():
    data = document("presets")
    assert [p["name"] for p in data["presets"]] == preset_names()
    owned = data["presets"][0]
    assert owned["ownership"] == "owned" and len(owned["hash"]) == 12
    assert {a["key"]: a["value"] for a in owned["assumptions"]}["pue"] == 1.58


def test_tiers_json_holds_the_shipped_tiers():
    data = document("tiers")
    shipped = tomllib.loads(SHIPPED_TIERS.read_text())
    assert [t["name"] for t in data["tiers"]] == list(shipped)
    for tier in data["tiers"]:
        for key, value in shipped[tier["name"]].items():
            assert tier[key] == value, (tier["name"], key)


def _two_runs(tmp_path):
    base = write_run(tmp_path / "base", point_record(batch=1, output_tok_s=100.0), point_record(batch=4))
    new = write_run(tmp_path / "new", point_record(batch=1, output_tok_s=80.0), point_record(batch=8))
    return base, new


def test_compare_json_holds_each_points_verdict_and_fails_as_the_gate_does(tmp_path):
    base, new = _two_runs(tmp_path)
    data = document("compare", base, new, code=1)
    assert data["passed"] is False and data["max_regression"] == 0.05
    assert data["counts"]["REGRESSION"] == 1 and data["counts"]["only-in-baseline"] == 1
    assert data["counts"]["only-in-new"] == 1
    verdicts = {(p["batch_size"], p["metric"]): p["verdict"] for p in data["points"]}
    assert verdicts[(1, "output tok/s")] == "REGRESSION"
    assert verdicts[(4, "(all)")] == "only-in-baseline" and verdicts[(8, "(all)")] == "only-in-new"
    speed = next(p for p in data["points"] if (p["batch_size"], p["metric"]) == (1, "output tok/s"))
    assert (speed["median_baseline"], speed["median_new"]) == (100.0, 80.0)
    assert speed["change"] == pytest.approx(-0.2)
    assert next(p for p in data["points"] if p["batch_size"] == 8)["median_baseline"] is None


def test_compare_json_passes_and_the_benchmark_json_is_written_beside_it(tmp_path):
    base, _ = _two_runs(tmp_path)
    result = tokencost("compare", base, base, "--json", "--benchmark-json", tmp_path / "bench.json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["passed"] is True and {p["verdict"] for p in data["points"]} == {"ok"}
    assert f"pytest-benchmark JSON: {tmp_path / 'bench.json'}" in result.stderr
    assert json.loads((tmp_path / "bench.json").read_text())["benchmarks"]


def test_doctor_json_holds_the_findings_the_text_prints(quick_doctor):
    data = document("doctor", "--require-gpu", code=1)
    text = tokencost("doctor", "--require-gpu").stdout.splitlines()
    for finding in data["findings"]:
        assert any(line.split(None, 2)[-1] == finding["text"] or finding["text"] in line for line in text), finding
    assert data["gpu_run_ready"] is False and "torch" in data["missing"]
    assert [f"MISSING: {item}" for item in data["missing"]] == [
        line.split(":")[0] + ":" + line.split(":")[1] for line in text if line.startswith("MISSING:")
    ]
    assert document("doctor")["gpu_count"] == 1  # informational without --require-gpu: exit 0


def test_bad_input_with_json_prints_nothing_on_stdout():
    result = tokencost(*QUOTE[:-1], "0", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("tokencost: error: --tok-s:")


def test_with_json_whatever_else_is_printed_or_logged_goes_to_stderr(capsys):
    with console.shown(), stdout_for_json(True):
        print("a stray line")
        logging.getLogger("bench.anything").info("a log line")
        emit("quote", value=1.5)
    out, err = capsys.readouterr()
    assert json.loads(out) == {"schema": "tokencost.quote/1", "value": 1.5}
    assert err.splitlines() == ["a stray line", "a log line"]


def test_plain_turns_missing_figures_into_null_and_numpy_into_numbers():
    table = pd.DataFrame({"n": [1, 2], "x": [0.5, np.nan], "when": [pd.Timestamp("2026-11-27T23:25:14Z"), pd.NaT]})
    rows = plain(table.to_dict(orient="records"))
    assert rows == [
        {"n": 1, "x": 0.5, "when": "2026-11-27T23:25:14+00:00"},
        {"n": 2, "x": None, "when": None},
    ]
    assert plain({"a": np.int64(3), "b": np.float32(math.inf), "c": pd.NA, "d": (np.bool_(True),)}) == {
        "a": 3,
        "b": None,
        "c": None,
        "d": [True],
    }
    with pytest.raises(TypeError, match="no JSON form"):
        plain(object())
