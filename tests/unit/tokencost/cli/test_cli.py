"""The command line: help, model listing, and one-line errors for bad input.

Most tests run the command line in this process (`tests.support.cli`); the two marked `subprocess` test what
only a process of its own shows: the installed console script and its exit codes, and what `--help` imports.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench.inputs.cards import default_models_dir
from tests.support import run_cli
from tests.support.cli import tokencost
from tests.support.records_factory import point_record, write_run


@pytest.mark.subprocess
def test_the_console_script_runs_the_command_line_and_its_exit_code_reaches_the_shell():
    listed = run_cli.tokencost("models")
    assert listed.returncode == 0, listed.stderr
    assert "tiny-dense" in listed.stdout.split()
    cannot_fit = run_cli.tokencost(
        "run",
        "--dry-run",
        "--models",
        "mixtral-8x7b",
        "--engines",
        "vllm",
        "--batch-sizes",
        "1",
        "--gpu-memory-gib",
        80,
    )
    assert cannot_fit.returncode == 1, cannot_fit.stderr
    assert "SKIP: mixtral-8x7b's weights" in cannot_fit.stdout
    refused = run_cli.tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "0")  # a UserError: main returns 2
    assert refused.returncode == 2 and refused.stderr.startswith("tokencost: error: --tok-s:"), refused.stderr
    assert len(refused.stderr.splitlines()) == 1 and refused.stdout == ""
    parser = run_cli.tokencost("run", "--batch-sizes", "4,x")  # argparse refuses it: SystemExit(2)
    assert parser.returncode == 2 and "--batch-sizes" in parser.stderr


@pytest.mark.subprocess
def test_help_imports_neither_torch_nor_vllm():
    code = (
        "import sys\n"
        "from tokencost.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'vllm', 'pandas', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: tokencost" in out
    assert "HEAVY []" in out


def test_models_lists_every_card_with_computed_parameters():
    result = tokencost("models")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert {"tiny-dense", "tiny-moe", "qwen3-30b-a3b", "mixtral-8x7b"} <= set(lines)
    assert "30.53 B" in lines["qwen3-30b-a3b"] and "3.35 B" in lines["qwen3-30b-a3b"]


def _one_line_error(result, field):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tokencost: error: {field}")
    return lines[0]


def test_unknown_model_card():
    line = _one_line_error(tokencost("run", "--models", "tiny-dense,gpt-17"), "--models:")
    assert "'gpt-17'" in line and "use one of:" in line and "tiny-moe" in line


def test_impossible_sweep_is_refused_before_anything_runs(tmp_path):
    line = _one_line_error(tokencost("run", "--isl", "4000", "--osl", "200", "--out", tmp_path / "r"), "isl+osl:")
    assert "exceeds tiny-dense's context of 4096 tokens" in line
    assert not (tmp_path / "r" / "records.jsonl").exists()


@pytest.fixture
def models_dir(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(default_models_dir() / "tiny-dense", target / "tiny-dense")
    return target


def test_malformed_config(models_dir):
    (models_dir / "tiny-dense" / "config.json").write_text('{"hidden_size": 64,')
    env = os.environ | {"TOKENCOST_MODELS_DIR": str(models_dir)}
    line = _one_line_error(tokencost("run", "--models", "tiny-dense", env=env), "tiny-dense/config.json:")
    assert "not valid JSON" in line


def test_config_missing_a_dimension(models_dir):
    config = json.loads((models_dir / "tiny-dense" / "config.json").read_text())
    del config["num_hidden_layers"]
    (models_dir / "tiny-dense" / "config.json").write_text(json.dumps(config))
    env = os.environ | {"TOKENCOST_MODELS_DIR": str(models_dir)}
    line = _one_line_error(
        tokencost("run", "--models", "tiny-dense", env=env), "tiny-dense/config.json num_hidden_layers:"
    )
    assert "give a positive integer" in line
    listed = tokencost("models", env=env)  # listed as broken, with why, and exit 1 (see `tokencost models --help`)
    assert listed.returncode == 1, listed.stderr
    assert "tiny-dense       BROKEN: tiny-dense/config.json num_hidden_layers: is None" in listed.stdout


def test_bad_assumptions_file(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text("pue = 0.2\n")
    _one_line_error(tokencost("run", "--assumptions", path, "--out", tmp_path / "r"), f"--assumptions {path} pue:")


def test_unknown_preset_and_api():
    _one_line_error(tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--preset", "free"), "--preset:")
    _one_line_error(tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--api", "gpt-9"), "--api:")


def test_quote_prices_one_throughput_figure():
    result = tokencost("quote", "--gpu", "NVIDIA H100 80GB HBM3", "--tok-s", "1000", "--set", "usd_per_kwh=0.10")
    assert result.returncode == 0, result.stderr
    # capital 0.963185 + energy 0.7 kW x 1.58 x $0.10 = 0.1106 -> $1.073785/h -> $0.2983/M (4 significant digits)
    assert "hourly cost per serving hour: $1.074" in result.stdout
    assert "$/M input+output tokens: 0.2983" in result.stdout
    assert "TDP, estimated" in result.stdout


@pytest.mark.parametrize("flag, value", [("--tok-s", "0"), ("--tok-s", "-3"), ("--gpus", "0"), ("--input-share", "2")])
def test_quote_rejects_impossible_numbers(flag, value):
    args = {"--tok-s": "1000", "--gpus": "1", "--input-share": "0.5"} | {flag: value}
    _one_line_error(tokencost("quote", "--gpu", "h100-sxm", *[x for kv in args.items() for x in kv]), flag + ":")


def test_price_reprices_a_run_without_measuring(tmp_path):
    write_run(
        tmp_path, point_record(accelerator="NVIDIA H100 80GB HBM3", units=1, method="nvml-counter", power_w=400.0)
    )
    owned = tokencost("price", tmp_path, "--csv", tmp_path / "owned.csv")
    rented = tokencost("price", tmp_path, "--preset", "on-demand-rental")
    assert owned.returncode == 0 and rented.returncode == 0, owned.stderr + rented.stderr
    assert "Preset 'owned'" in owned.stdout and "Preset 'on-demand-rental'" in rented.stdout
    assert (tmp_path / "owned.csv").exists()


def test_presets_lists_every_preset():
    result = tokencost("presets")
    assert result.returncode == 0
    assert {"owned", "neocloud-owned", "inferencex-rental"} <= {line.split()[0] for line in result.stdout.splitlines()}


def test_bad_suite_file(tmp_path):
    path = tmp_path / "suite.toml"
    path.write_text("models = ['tiny-dense']\n[workload]\nisl = 8\nbatch = 3\n")
    _one_line_error(tokencost("run", "--suite", path), f"{path} workload.batch: is not a setting")


def test_bad_batch_sizes_flag():
    result = tokencost("run", "--batch-sizes", "4,x")
    assert result.returncode == 2
    assert "--batch-sizes" in result.stderr


def test_report_of_a_directory_without_records(tmp_path):
    _one_line_error(tokencost("report", tmp_path), "RUN_DIR:")


def test_a_refused_run_leaves_the_run_directory_as_it_was(tmp_path):
    run_dir = write_run(tmp_path / "run", point_record())
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "suite": {"models": ["tiny-dense"]},
                "hardware": {"accelerator": "CPU (some other machine)", "accelerator_count": 64, "gpus": []},
            }
        )
    )
    (run_dir / "report.md").write_text("the run's own report")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    other_machine = tokencost("run", "--resume", run_dir)
    _one_line_error(other_machine, "--resume:")
    existing = tokencost("run", "--out", run_dir, "--models", "tiny-dense")
    assert "already holds a run" in _one_line_error(existing, "--out:")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_price_reads_a_records_file_too(tmp_path):
    write_run(tmp_path, point_record())
    result = tokencost("price", tmp_path / "records.jsonl")
    assert result.returncode == 0, result.stderr
    assert "Preset 'owned'" in result.stdout


def test_resume_refuses_other_settings(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "suite": {"models": ["tiny-dense"], "batch_sizes": [1]},
                "hardware": {"accelerator": "CPU (some other machine)", "accelerator_count": 64, "gpus": []},
            }
        )
    )
    differ = tokencost("run", "--resume", run_dir, "--batch-sizes", "4")
    # (the embedded suite a resume with flags starts from measures the demo's extra workload in the demo's 5 s
    # windows; the run's had neither)
    assert differ.returncode == 2
    assert "the settings differ from the run's (batch_sizes, extra_workloads, min_window_s, models)" in differ.stderr
    machine = tokencost("run", "--resume", run_dir)
    assert machine.returncode == 2 and "is not the run's (CPU (some other machine) x 64)" in machine.stderr
    missing = tokencost("run", "--resume", tmp_path / "nowhere")
    assert missing.returncode == 2 and "has no readable run.json" in missing.stderr
