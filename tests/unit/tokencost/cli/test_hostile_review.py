"""Findings of a hostile-input review, each through the real command line (`tokencost.cli.main.main`, in this
process): bad input is one line naming the field and its fix, exit 2, before any engine or server starts, and
nothing is printed as if measuring or left behind; and inputs that used to crash now work."""

import json
import re
import shutil

import pandas as pd
import pytest

from bench.errors import UserError
from bench.inputs.cards import default_models_dir
from tests.support import FIXTURES, REPO
from tests.support.records_factory import point_record, write_run

SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"
VLLM_BENCH = FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """An empty working directory, the real cards in a models folder of its own, and a tripwire on every
    engine, server or endpoint start."""
    models = tmp_path / "models"
    for name in ("tiny-dense", "tiny-moe"):
        shutil.copytree(default_models_dir() / name, models / name)
    monkeypatch.setenv("TOKENCOST_MODELS_DIR", str(models))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")

    def tripwire(*args, **kwargs):
        raise AssertionError("an engine, server or endpoint was started for bad input")

    import bench.offline
    import bench.serve.server
    import bench.serve.sweep

    monkeypatch.setattr(bench.offline, "_start_engine", tripwire)
    monkeypatch.setattr(bench.serve.server.VllmServer, "start", tripwire)
    monkeypatch.setattr(bench.serve.sweep, "ExistingEndpoint", tripwire)
    return tmp_path


def tokencost(capsys, *argv):
    """Exit code, stdout and stderr of the command line run in this process."""
    from tokencost.cli.main import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse refuses a value before any command runs
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, field, *argv) -> str:
    code, out, err = tokencost(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}: {err[-600:]} {out[-300:]}"
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tokencost: error: {field}"), lines[0]
    assert "Traceback" not in out + err and "Measuring into" not in out and "Resuming" not in out
    return lines[0]


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# Numeric bounds: far beyond any GPU, refused before anything starts (an engine used to start for each).
@pytest.mark.parametrize(
    "args, field",
    [
        (
            ["--batch-sizes", "100000000000000"],
            "--batch-sizes: is 100000000000000; input should be less than or equal to 65536",
        ),
        (["--requests-per-batch", "1000000000000"], "--requests-per-batch: is 1000000000000"),
        (["--mode", "serve", "--concurrency", "100000000000000"], "--concurrency: is 100000000000000"),
        (["--mode", "serve", "--request-rates", "1e15"], "--request-rates: is 1000000000000000.0"),
        (["--mode", "serve", "--slo-ttft-ms", "1e15"], "--slo-ttft-ms: is 1000000000000000.0"),
        (["--min-window-s", "1e15"], "--min-window-s: is 1000000000000000.0"),
        (["--watts-per-vcpu", "1e15"], "--watts-per-vcpu: is 1e+15, above the cap of 1000"),
        (["--batch-sizes", "1,,4"], "--batch-sizes: '1,,4' has an empty item"),
    ],
)
def test_numbers_beyond_any_deployment_are_refused_before_anything_starts(world, capsys, args, field):
    one_line_error(capsys, field, "run", "--models", "tiny-dense", "--engines", "vllm", *args)
    assert files_under(world / "work") == []


def test_max_model_len_beyond_the_cards_context_is_refused_before_an_engine_starts(world, capsys):
    suite = world / "suite.toml"
    suite.write_text(
        'models = ["tiny-dense"]\nengines = ["vllm"]\nbatch_sizes = [1]\n[engine]\nmax_model_len = 100000\n'
    )
    line = one_line_error(
        capsys, "engine.max_model_len: is 100000, beyond tiny-dense's context of 4096 tokens", "run", "--suite", suite
    )
    assert "give at most 4096" in line
    assert files_under(world / "work") == []


def test_an_unknown_endpoint_gpu_is_refused_before_the_run_starts(world, capsys):
    line = one_line_error(
        capsys,
        "--endpoint-gpu: 'no-such-gpu' is not in the hardware catalog",
        "run",
        "--models",
        "tiny-dense",
        "--endpoint",
        "http://192.0.2.1:8000",
        "--endpoint-gpu",
        "no-such-gpu",
    )
    assert "--hardware" in line
    assert files_under(world / "work") == []


def test_a_run_refused_by_the_sweep_prints_no_header_and_leaves_no_empty_folder(world, capsys, monkeypatch):
    from bench.run import run as run_module

    def no_gpus(self):
        raise UserError("CUDA_VISIBLE_DEVICES", "names no GPU here", "unset it or name a GPU nvidia-smi lists")

    monkeypatch.setattr(run_module.SweepRun, "_engine_gpus", no_gpus)  # refused after the folder was made
    one_line_error(capsys, "CUDA_VISIBLE_DEVICES:", "run", "--models", "tiny-dense", "--out", "new/runs/one")
    one_line_error(capsys, "CUDA_VISIBLE_DEVICES:", "run", "--models", "tiny-dense")  # the default folder
    assert files_under(world / "work") == []


def test_an_existing_run_is_refused_without_a_measuring_header(world, capsys):
    run_dir = write_run(world / "work" / "old", point_record())
    (run_dir / "run.json").write_text("{}")
    before = files_under(world / "work")
    one_line_error(capsys, "--out:", "run", "--models", "tiny-dense", "--out", run_dir)
    assert files_under(world / "work") == before


def no_engine_starts(monkeypatch) -> None:
    """A sweep whose engines cannot start, quickly: each point is recorded as failed at the engine's start."""
    import bench.offline
    from bench import environment
    from bench.run import run as run_module

    def no_engine(*args):
        raise UserError("engine", "cannot start here", "run it where vLLM is installed")

    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.05, "gpu": 0.05})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(bench.offline, "_start_engine", no_engine)


def test_a_card_folder_given_as_a_path_runs_under_its_card_name(world, capsys, monkeypatch):
    """It used to be found, then crash with a KeyError: points were planned under the path, measured under the name."""
    from bench.run.records import read_records

    no_engine_starts(monkeypatch)
    card = world / "models" / "tiny-dense"
    code, out, err = tokencost(
        capsys,
        "run",
        "--models",
        card,
        "--engines",
        "vllm",
        "--batch-sizes",
        "1",
        "--out",
        "run",
        "--min-window-s",
        "0",
    )
    assert code == 2 and "engine: cannot start here" in err, err
    assert out.startswith("Measuring into run\n")
    (record,) = read_records(world / "work" / "run")
    assert record.point == "tiny-dense/vllm/batch1/isl128/osl128" and record.failure == "engine-start"


def test_a_folder_here_does_not_shadow_the_card_of_that_name(world, capsys):
    shutil.copytree(world / "models" / "tiny-dense", world / "work" / "tiny-dense")
    (world / "work" / "tiny-dense" / "config.json").write_text("{}")  # a folder that is no card
    code, out, err = tokencost(
        capsys, "run", "--models", "tiny-dense", "--engines", "vllm", "--batch-sizes", "1", "--dry-run"
    )
    assert code == 0, err
    assert "tiny-dense/vllm/batch1/isl128/osl128: runs" in out
    here = world / "work" / "tiny-dense"  # named by its whole path, never to be taken for the models folder's card
    one_line_error(capsys, f"{here}/config.json hidden_size:", "run", "--models", "./tiny-dense", "--dry-run")


# Model cards that cannot describe a model: named when the card loads, by every command that loads it.
@pytest.mark.parametrize(
    "change, field",
    [
        ({"num_experts": 0}, "num_experts"),
        ({"num_experts_per_tok": 16}, "num_experts_per_tok"),
        ({"num_experts": "8"}, "num_experts"),
        ({"num_key_value_heads": 0}, "num_key_value_heads"),
        ({"vocab_size": 3}, "vocab_size"),
    ],
)
def test_a_broken_card_is_named_by_run_project_and_listed_broken_by_models(world, capsys, change, field):
    config = json.loads((world / "models" / "tiny-moe" / "config.json").read_text())
    (world / "models" / "tiny-moe" / "config.json").write_text(json.dumps(config | change))
    one_line_error(capsys, f"tiny-moe/config.json {field}: ", "run", "--models", "tiny-moe")
    one_line_error(capsys, f"tiny-moe/config.json {field}: ", "project", "--model", "tiny-moe", "--gpu", "h100-sxm")
    code, out, err = tokencost(capsys, "models")
    assert code == 1 and "1 model card(s) broken" in err
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["tiny-moe"].startswith(f"tiny-moe         BROKEN: tiny-moe/config.json {field}: ")
    assert "BROKEN" not in rows["tiny-dense"] and "6.56 M" in rows["tiny-dense"]


def test_project_refuses_lengths_beyond_the_models_context(world, capsys):
    line = one_line_error(
        capsys,
        "--isl/--osl: 5000+5000 exceeds tiny-dense's context of 4096 tokens",
        "project",
        "--model",
        "tiny-dense",
        "--gpu",
        "h100-sxm",
        "--isl",
        "5000",
        "--osl",
        "5000",
    )
    assert "at most 4096" in line
    one_line_error(
        capsys,
        "--batch-sizes: is 100000000000000",
        "project",
        "--model",
        "tiny-dense",
        "--gpu",
        "h100-sxm",
        "--batch-sizes",
        "100000000000000",
    )


# Numbers that were silently accepted, or answered with a line naming no field.
@pytest.mark.parametrize(
    "args, field",
    [
        (["--input-tokens-share", "0"], "--input-tokens-share: is 0, which leaves no input tokens"),
        (["--input-tokens-share", "1"], "--input-tokens-share: is 1, which leaves no output tokens"),
        (["--tok-s", "1e15"], "--tok-s: is 1e+15, above the cap"),
        (["--watts", "1e15"], "--watts: is 1e+15, above the cap"),
        (["--watts", "60000"], "--watts: is 60000 W for 1 GPU(s), above 5000 W a GPU"),
        (["--gpus", "100000000000000"], "--gpus: is 100000000000000, above the cap of 65536"),
        (["--tok-s", "nan"], "--tok-s: 'nan' is not a finite number"),
        (["--tok-s", "-1"], "--tok-s: is -1; give a positive number"),
        (["--output-tok-s", "nan"], "--output-tok-s: 'nan' is not a finite number"),
        (["--output-tok-s", "1e15"], "--output-tok-s: is 1e+15, above the cap"),
        (["--output-tok-s", "0"], "--output-tok-s: is 0; give a positive number"),
        (["--total-tok-s", "inf"], "--total-tok-s: 'inf' is not a finite number"),
        (["--total-tok-s", "-5"], "--total-tok-s: is -5; give a positive number"),
        (["--watts", "inf"], "--watts: 'inf' is not a finite number"),
    ],
)
def test_quote_refuses_numbers_no_deployment_has(world, capsys, args, field):
    argv = ({} if args[0] in ("--output-tok-s", "--total-tok-s") else {"--tok-s": "1000"}) | dict(
        zip(args[::2], args[1::2])
    )
    one_line_error(capsys, field, "quote", "--gpu", "h100-sxm", *[x for kv in argv.items() for x in kv])


@pytest.mark.parametrize(
    "figures, field",
    [
        ("tdp_w = nan\nprice_usd = 1000", "my-gpu.tdp_w: is nan"),
        ("tdp_w = 300\nprice_usd = inf", "my-gpu.price_usd: is inf"),
        ("tdp_w = 300\nprice_usd = 1000\nmatch = 3", "my-gpu.match: is 3"),
    ],
)
def test_a_hardware_file_with_a_figure_that_is_no_number_is_refused(world, capsys, figures, field):
    path = world / "hardware.toml"
    path.write_text(f"[my-gpu]\n{figures}\n")
    one_line_error(capsys, f"{path} {field}", "quote", "--gpu", "my-gpu", "--tok-s", "100", "--hardware", path)


@pytest.mark.parametrize(
    "text, field",
    [
        ('ownership = "rented"\nrate = "rates"\nrates = { h100-sxm = inf }', "rates.h100-sxm: is inf"),
        ("usd_per_kwh = nan", "usd_per_kwh: is nan; input should be a finite number"),
    ],
)
def test_an_assumptions_file_with_a_value_that_is_no_number_is_refused_naming_the_file(world, capsys, text, field):
    path = world / "assumptions.toml"
    path.write_text(text + "\n")
    one_line_error(
        capsys, f"--assumptions {path} {field}", "quote", "--gpu", "h100-sxm", "--tok-s", "100", "--assumptions", path
    )
    one_line_error(capsys, "--set pue: is nan", "quote", "--gpu", "h100-sxm", "--tok-s", "100", "--set", "pue=nan")


def _bench_file(world, **changes):
    data = json.loads(VLLM_BENCH.read_text()) | changes
    path = world / "bench.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"completed": -3}, "completed: is -3"),
        ({"completed": True}, "completed: is True"),
        ({"failed": -1}, "failed: is -1"),
        ({"num_prompts": True}, "num_prompts: is True"),
        ({"total_input_tokens": 0}, "total_input_tokens: is 0"),
        ({"output_throughput": 0}, "output_throughput: is 0"),
        ({"duration": "12"}, "duration: is '12'"),
        ({"request_rate": "fast"}, "request_rate: is 'fast'"),
        ({"request_goodput": -1.0}, "request_goodput: is -1.0"),
    ],
)
def test_a_vllm_bench_file_with_impossible_counts_is_refused(world, capsys, changes, field):
    path = _bench_file(world, **changes)
    one_line_error(capsys, f"{path}: {field}", "price", path, "--gpu", "h100-sxm")


@pytest.mark.parametrize("rate", ['"inf"', "Infinity"])
def test_a_vllm_bench_file_of_the_default_load_is_priced(world, capsys, rate):
    """vllm bench serve's default: request_rate inf and no max_concurrency, so every request is in flight."""
    path = world / "bench.json"
    data = json.loads(VLLM_BENCH.read_text()) | {"max_concurrency": None}
    path.write_text(json.dumps(data).replace('"request_rate": "inf"', f'"request_rate": {rate}'))
    code, out, err = tokencost(capsys, "price", path, "--gpu", "h100-sxm", "--csv", world / "costs.csv")
    assert code == 0, err
    (row,) = pd.read_csv(world / "costs.csv").to_dict("records")
    assert row["concurrency"] == data["num_prompts"] and "conc 128" in out


def test_a_goodput_of_zero_is_shown_as_zero(world, capsys):
    path = _bench_file(world, request_goodput=0.0)
    code, out, err = tokencost(capsys, "price", path, "--gpu", "h100-sxm", "--csv", world / "costs.csv")
    assert code == 0, err
    (row,) = pd.read_csv(world / "costs.csv").to_dict("records")
    assert row["goodput_share"] == 0 and row["goodput_rps"] == 0
    header, rule, values = out.splitlines()[:3]
    column = next(m for m in re.finditer(r"-+", rule) if m.start() <= header.index("within SLO") < m.end())
    assert values[column.start() : column.end()].strip() == "0%"


def test_a_record_with_nothing_to_price_is_refused_naming_its_file_and_line(world, capsys):
    run_dir = write_run(world / "run", point_record())
    record = json.loads((run_dir / "records.jsonl").read_text())
    (run_dir / "records.jsonl").write_text(json.dumps(record | {"output_tokens": 0, "output_tok_s": 0.0}) + "\n")
    for args in (["price", run_dir], ["price", run_dir / "records.jsonl"], ["report", run_dir, "-o", world / "report"]):
        one_line_error(capsys, f"{run_dir / 'records.jsonl'}:1:", *args)
    assert not (world / "report").exists()


def test_claims_on_a_serving_run_cannot_tell_rather_than_crash(world, capsys):
    code, out, err = tokencost(capsys, "claims", SERVE_DEMO)
    assert code == 0, err
    assert out.count("cannot tell from these runs") == 5
    assert "serving points only" in out


def test_claims_of_a_model_without_a_card_here_still_judge(world, capsys):
    run_dir = write_run(
        world / "run",
        point_record(
            model="someone-elses-model",
            accelerator="NVIDIA H100 80GB HBM3",
            units=1,
            method="nvml-counter",
            power_w=400.0,
        ),
    )
    code, out, err = tokencost(capsys, "claims", run_dir)
    assert code == 0, err
    assert "no run of the same model and settings on both H100 and A100" in out


def test_the_caps_are_the_documented_ones(capsys):
    """The help of `run` and `quote` states the caps that the suite's bounds and the option types enforce."""
    from bench.inputs import suite, workload
    from tokencost.cli import args

    assert (suite.MAX_IN_FLIGHT, workload.MAX_REQUESTS_PER_SLOT, workload.MAX_TOKENS) == (65536, 100_000, 10_000_000)
    assert (suite.MAX_REQUEST_RATE, suite.MAX_SLO_MS, args.MAX_GPUS) == (100_000, 3_600_000, suite.MAX_GPUS)
    run_help = " ".join(args.build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    for text in (
        "1,4,16 (each at most 65536;",
        "--min-window-s) (at most 100000;",
        "the model's context (at most 10000000;",
        "1,4,16,64 (each at most 65536;",
        "1,4 (each at most 100000)",
        "in ms (at most 3600000;",
    ):
        assert text in run_help, text
    code, out, err = tokencost(capsys, "models", "--help")
    assert "listed as BROKEN with why, and the exit status is then 1" in " ".join(out.split())


def test_vllms_ray_executor_without_a_cluster_is_refused_before_anything_starts(world, capsys):
    # Its engine core would join whatever Ray cluster /tmp/ray names, or start one: workers this run can neither
    # meter nor tell from foreign processes (GPU review S3).
    suite = world / "ray.toml"
    suite.write_text('models = ["tiny-dense"]\n[engine]\nexecutor = "ray"\n')
    line = one_line_error(capsys, "engine.executor", "run", "--suite", suite, "--out", world / "run")
    assert line.endswith("add --ray-address HOST:PORT, or use executor = 'default' on one machine")
    assert not (world / "run").exists()
