"""Every subcommand and every file the tool reads, against bad input: one line, exit 2, nothing started or changed.

Each case runs the real command line in this process (`tokencost.cli.main.main`), with every engine and
server start replaced by a tripwire, and checks the promise of docs/commands.md: exit code 2, exactly one line on
stderr naming the field (`tokencost: error: FIELD: ...`), nothing on stdout that looks like a traceback,
no engine or server started, and every file of the test's folder exactly as it was (nothing measured
lost, nothing half-written). Cases are grouped by kind; the closing count is in the module's last test.
"""

import json
import shutil
from pathlib import Path

import pytest

from bench.inputs.cards import default_models_dir
from tests.support import REPO
from tests.support.records_factory import point_record, write_run

PUBLISHED = REPO / "results" / "2026-11-27-cpu-demo"
SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"
BENCH_FILE = next((REPO / "tests" / "fixtures" / "vllm-bench-serve").glob("*.json"))
NUMBERS = ["nan", "inf", "-1", "0", "1e15", "abc", ""]  # each is wrong for a positive count or size


def _bad_numbers(command: list, flag: str, field: str, values=NUMBERS, skip=()) -> list:
    return [(command + [flag, v], field) for v in values if v not in skip]


CASES: dict[str, list] = {}

# 1. Numbers out of range, not numbers, not finite: every numeric option.
CASES["numeric option"] = [
    *_bad_numbers(["run"], "--batch-sizes", "--batch-sizes:"),
    (["run", "--batch-sizes", "100000000000000"], "batch_sizes"),
    (["run", "--batch-sizes", "1,,4"], "--batch-sizes:"),
    *_bad_numbers(["run"], "--isl", "--isl:"),
    (["run", "--isl", "100000000000"], "isl"),
    *_bad_numbers(["run"], "--osl", "--osl:"),
    *_bad_numbers(["run"], "--requests-per-batch", "--requests-per-batch:"),
    (["run", "--requests-per-batch", "1000000000000"], "requests_per_batch"),
    *_bad_numbers(["run"], "--min-window-s", "--min-window-s:", skip=("0",)),
    (["run", "--min-window-s", "1e15"], "min_window_s"),
    *_bad_numbers(["run"], "--watts-per-vcpu", "--watts-per-vcpu:"),
    *_bad_numbers(["run", "--mode", "serve"], "--concurrency", "--concurrency:"),
    *_bad_numbers(["run", "--mode", "serve"], "--request-rates", "--request-rates:"),
    *_bad_numbers(["run", "--mode", "serve"], "--slo-ttft-ms", "--slo-ttft-ms:"),
    *_bad_numbers(["run", "--mode", "serve"], "--slo-tpot-ms", "--slo-tpot-ms:"),
    *_bad_numbers(["run", "--dry-run"], "--gpu-memory-gib", "--gpu-memory-gib:"),
    *_bad_numbers(["quote", "--gpu", "h100-sxm", "--gpus", "1"], "--tok-s", "--tok-s:"),
    *_bad_numbers(["quote", "--gpu", "h100-sxm", "--tok-s", "100"], "--watts", "--watts:"),
    *_bad_numbers(["quote", "--gpu", "h100-sxm", "--tok-s", "100"], "--gpus", "--gpus:"),
    *_bad_numbers(
        ["quote", "--gpu", "h100-sxm", "--tok-s", "100"],
        "--input-share",
        "--input-share:",
        values=["nan", "inf", "-1", "2", "abc"],
    ),
    *_bad_numbers(["price", str(PUBLISHED)], "--gpus", "--gpus:", values=["0", "-1", "abc", "nan"]),
    *_bad_numbers(
        ["project", "--model", "tiny-dense", "--gpu", "h100-sxm"], "--isl", "--isl:", values=["nan", "0", "-1", "1e15"]
    ),
    *_bad_numbers(
        ["project", "--model", "tiny-dense", "--gpu", "h100-sxm"],
        "--batch-sizes",
        "--batch-sizes:",
        values=["0", "-4", "x", "nan"],
    ),
    *_bad_numbers(
        ["compare", str(PUBLISHED), str(PUBLISHED)],
        "--max-regression",
        "--max-regression:",
        values=["nan", "-5%", "inf", "abc", "1.5"],
    ),
]

# 2. Names that are not known.
CASES["unknown name"] = [
    (["run", "--models", "no-such-model"], "--models:"),
    (["run", "--engines", "tensorrt"], "engines"),
    (["run", "--mode", "batch"], "--mode:"),
    (["quote", "--gpu", "no-such-gpu", "--tok-s", "100"], "hardware:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--preset", "no-such-preset"], "--preset:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--api", "no-such-api"], "--api:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--set", "no_such_key=1"], "--set"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--set", "usd_per_kwh=nan"], "--set"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--set", "usd_per_kwh"], "--set"),
    (["project", "--model", "no-such-model", "--gpu", "h100-sxm"], "--model:"),
    (["project", "--model", "tiny-dense", "--gpu", "no-such-gpu"], "hardware:"),
    (["price", str(PUBLISHED), "--preset", "nope"], "--preset:"),
    (["report", str(PUBLISHED), "--api", "nope", "-o", "{dir}/new-report"], "--api:"),
    (["models", "--bogus"], "unrecognized arguments"),
    (["presets", "no-such-preset"], "NAME:"),
    (["presets", "owned", "extra"], "unrecognized arguments"),
    (["tiers", "extra"], "unrecognized arguments"),
    (["completion", "fish"], "shell: invalid choice"),
    (["completion"], "the following arguments are required: shell"),
    (["run", "--mode", "serve", "--capacity", "no-such-tier"], "serve.capacity:"),
    (["run", "--capacity", "chat", "--mode", "offline"], "--mode"),
    (["run", "--mode", "serve", "--repeats", "0"], "--repeats:"),
    (["run", "--mode", "serve", "--repeats", "1e15"], "--repeats:"),
    (["run", "--mode", "serve", "--capacity", ","], "--capacity:"),
    (["run", "--mode", "serve", "--capacity-load", "bogus"], "--capacity-load:"),
    (["doctor", "--require-gpu=yes"], "--require-gpu"),
    (["frobnicate"], "frobnicate"),
]

# 3. Paths of the wrong kind where a file or directory is read.
WRONG_FILES = {
    "a directory": "{dir}/a-dir",
    "a binary file": "{dir}/binary.dat",
    "a missing file": "{dir}/missing",
    "an empty file": "{dir}/empty.txt",
    "non-UTF-8 text": "{dir}/latin1.txt",
}
CASES["input path of the wrong kind"] = [
    # (an empty suite file is valid: every setting at its default)
    *[(["run", "--suite", path], "--suite:") for path in WRONG_FILES.values() if "empty" not in path],
    *[(["doctor", "--suite", path], "--suite:") for path in WRONG_FILES.values() if "empty" not in path],
    *[
        (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--hardware", path], "--hardware:")
        for path in WRONG_FILES.values()
        if "empty" not in path
    ],
    *[
        (["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--assumptions", path], "--assumptions:")
        for path in WRONG_FILES.values()
        if "empty" not in path
    ],
    *[(["price", path], "") for path in WRONG_FILES.values()],
    *[(["report", path, "-o", "{dir}/new-report"], "") for path in WRONG_FILES.values()],
    *[(["claims", path], "") for path in WRONG_FILES.values()],
    *[(["compare", path, str(PUBLISHED)], "") for path in WRONG_FILES.values()],
    (["run", "--resume", "{dir}/a-dir"], "--resume:"),
    (["run", "--resume", "{dir}/binary.dat"], "--resume:"),
    (["run", "--resume", "{dir}/list-run"], "--resume:"),
    (["index", "{dir}/binary.dat"], "RESULTS_DIR:"),
    (["gpu-table", "{dir}/a-dir"], "DIR:"),
    (["gpu-table", "{dir}/binary.dat"], "DIR:"),
    (["gpu-table", "{dir}/missing"], "DIR:"),
    (["project", "--model", "tiny-dense", "--gpu", "h100-sxm", "--efficiency", "{dir}/a-dir"], "--efficiency:"),
]

# 4. Output locations that cannot be written.
BAD_OUTPUTS = {
    "an existing file as a directory": "{dir}/binary.dat",
    "below a file": "{dir}/binary.dat/sub",
    "/dev/null": "/dev/null",
    "in /proc": "/proc/tokencost-out",  # os.access says yes to root there; creating a file says no
}
BAD_OUTPUT_FILES = {
    "a directory": "{dir}/a-dir",
    "below a file": "{dir}/binary.dat/x.csv",
    "in /proc": "/proc/tokencost.csv",
}
CASES["output location"] = [
    *[(["run", "--out", path], "--out:") for path in BAD_OUTPUTS.values()],
    (["run", "--out", str(PUBLISHED)], "--out:"),  # an existing run is never overwritten
    *[(["report", str(PUBLISHED), "-o", path], "-o/--out:") for path in BAD_OUTPUTS.values()],
    *[(["claims", str(PUBLISHED), "-o", path], "-o/--out:") for path in BAD_OUTPUTS.values()],
    *[(["price", str(PUBLISHED), "--csv", path], "--csv:") for path in BAD_OUTPUT_FILES.values()],
    *[
        (["project", "--model", "tiny-dense", "--gpu", "h100-sxm", "--csv", path], "--csv:")
        for path in BAD_OUTPUT_FILES.values()
    ],
    *[
        (["compare", str(PUBLISHED), str(PUBLISHED), "--benchmark-json", path], "--benchmark-json:")
        for path in BAD_OUTPUT_FILES.values()
    ],
]

# 5. Suite files: valid TOML, wrong contents.
BAD_SUITES = {
    "unknown-key": 'modles = ["tiny-dense"]\n',
    "string-number": 'batch_sizes = ["4"]\n',
    "nan-window": "min_window_s = nan\n",
    "inf-timeout": "point_timeout_s = inf\n",
    "negative-batch": "batch_sizes = [-1]\n",
    "empty-models": "models = []\n",
    "huge-batch": "batch_sizes = [100000000000000]\n",
    "bool-isl": "[workload]\nisl = true\n",
    "float-osl": "[workload]\nosl = 1.5\n",
    "unknown-engine-key": "[engine]\ntensor_parallel = 2\n",
    "bad-dtype": '[engine]\ndtype = "int3"\n',
    "share-above-1": "[engine]\ngpu_memory_utilization = 1.5\n",
    "offline-dp": "[engine]\ndata_parallel_size = 2\n",
    "server-arg-tp": 'mode = "serve"\n[serve]\nserver_args = ["--tensor-parallel-size", "2"]\n',
    "bad-endpoint": 'mode = "serve"\n[serve]\nendpoint = "ftp://x"\n',
    "rate-inf": 'mode = "serve"\n[serve]\nrequest_rates = [inf]\n',
    "context-too-long": "[workload]\nisl = 100000\nosl = 100000\n",
    "pairs-not-table": 'pairs = "x"\n',
}
CASES["suite file contents"] = [(["run", "--suite", f"{{dir}}/suites/{name}.toml"], "") for name in BAD_SUITES]

# 6. Record files: damaged runs to price, report, compare and resume.
BAD_RECORDS = {
    "missing-field": lambda r: {k: v for k, v in r.items() if k != "model"},
    "nan-number": lambda r: r | {"output_tok_s": float("nan")},
    "string-number": lambda r: r | {"duration_s": "10.0"},
    "future-schema": lambda r: r | {"schema_version": 99},
    "string-schema": lambda r: r | {"schema_version": "3"},
    "unknown-field": lambda r: r | {"surprise": 1},
    "not-an-object": lambda r: [r],
}
CASES["record file contents"] = [
    *[([command, f"{{dir}}/runs/{name}"], "") for name in BAD_RECORDS for command in ("price", "report", "claims")],
    (["price", "{dir}/runs/records-dir"], ""),
    (["price", "{dir}/runs/torn-middle"], ""),
]

# 7. Hardware and assumption files with impossible figures.
BAD_HARDWARE = {
    "nan-tdp": '[my-gpu]\nmatch = "MY GPU"\ntdp_w = nan\nprice_usd = 1000\n',
    "inf-price": '[my-gpu]\nmatch = "MY GPU"\ntdp_w = 300\nprice_usd = inf\n',
    "negative-price": '[my-gpu]\nmatch = "MY GPU"\ntdp_w = 300\nprice_usd = -5\n',
    "string-tdp": '[my-gpu]\nmatch = "MY GPU"\ntdp_w = "300"\nprice_usd = 1000\n',
    "bad-regex": '[my-gpu]\nmatch = "(("\ntdp_w = 300\nprice_usd = 1000\n',
}
BAD_ASSUMPTIONS = {
    "nan-kwh": "usd_per_kwh = nan\n",
    "negative-pue": "pue = -1\n",
    "unknown-key": "no_such_key = 1\n",
    "string-value": 'usd_per_kwh = "cheap"\n',
    "inf-years": "amortization_years = inf\n",
}
CASES["hardware and assumption files"] = [
    *[
        (["quote", "--gpu", "MY GPU", "--tok-s", "100", "--hardware", f"{{dir}}/hardware/{name}.toml"], "")
        for name in BAD_HARDWARE
    ],
    *[
        (
            ["quote", "--gpu", "h100-sxm", "--tok-s", "100", "--assumptions", f"{{dir}}/assumptions/{name}.toml"],
            "--assumptions",
        )
        for name in BAD_ASSUMPTIONS
    ],
]

# 8. `vllm bench serve --save-result` files.
BAD_BENCH = {
    "list": lambda b: [b],
    "negative-completed": lambda b: b | {"completed": -3},
    "bool-completed": lambda b: b | {"completed": True},
    "string-duration": lambda b: b | {"duration": "12"},
    "zero-duration": lambda b: b | {"duration": 0},
    "missing-output": lambda b: {k: v for k, v in b.items() if k != "total_output_tokens"},
}
CASES["vllm bench files"] = [(["price", f"{{dir}}/bench/{name}.json", "--gpu", "h100-sxm"], "") for name in BAD_BENCH]

# 9. Model cards that cannot describe a model.
BAD_CARDS = {
    "zero-experts": {"num_experts": 0, "num_experts_per_tok": 2},
    "topk-above-experts": {"num_experts": 4, "num_experts_per_tok": 8},
    "moe-without-topk": {"num_experts": 4, "num_experts_per_tok": None},  # None: the key is removed
    "experts-as-string": {"num_experts": "8", "num_experts_per_tok": 2},
    "heads-not-dividing": {"num_attention_heads": 7},
    "zero-kv-heads": {"num_key_value_heads": 0},
    "tiny-vocab": {"vocab_size": 3},
    "float-layers": {"num_hidden_layers": 2.5},
}
CASES["model cards"] = [(["run", "--models", name], f"{name}/config.json") for name in BAD_CARDS] + [
    (["project", "--model", name, "--gpu", "h100-sxm"], f"{name}/config.json") for name in BAD_CARDS
]

# 10. The field first on the line: a field given as "tokencost: error: FIELD" must open the line, not just be in it.
E = "tokencost: error: "
CASES["field named first"] = [
    (["run", "--suite", "{dir}/a-dir"], E + "--suite:"),
    (["run", "--suite", "{dir}/binary.dat"], E + "--suite:"),
    (["run", "--out", "{dir}/binary.dat"], E + "--out:"),
    (["run", "--batch-sizes", "1e14"], E + "--batch-sizes:"),
    (["run", "--isl", "nan"], E + "--isl:"),
    (["run", "--watts-per-vcpu", "nan"], E + "--watts-per-vcpu:"),
    (["run", "--request-rates", "inf"], E + "--request-rates:"),
    (["price", "{dir}/a-dir"], E + "RUN_DIR:"),
    (["price", "{dir}/binary.dat", "--gpu", "h100-sxm"], E + "{dir}/binary.dat:"),
    (["price", str(PUBLISHED), "--csv", "{dir}/a-dir"], E + "--csv:"),
    (["price", str(PUBLISHED), "--csv", "{dir}/binary.dat/x.csv"], E + "--csv:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "inf"], E + "--tok-s:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--hardware", "{dir}/binary.dat"], E + "--hardware:"),
    (["quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--assumptions", "{dir}/a-dir"], E + "--assumptions:"),
    (["report", str(PUBLISHED), "-o", "{dir}/binary.dat"], E + "-o/--out:"),
    (["claims", str(PUBLISHED), "-o", "{dir}/binary.dat"], E + "-o/--out:"),
    (["compare", "{dir}/binary.dat", "{dir}/binary.dat"], E + "{dir}/binary.dat:"),
    (["compare", str(PUBLISHED), str(PUBLISHED), "--benchmark-json", "{dir}/a-dir"], E + "--benchmark-json:"),
    (["project", "--model", "tiny-dense", "--gpu", "h100-sxm", "--isl", "1e15"], E + "--isl:"),
    (["project", "--model", "tiny-dense", "--gpu", "h100-sxm", "--csv", "{dir}/a-dir"], E + "--csv:"),
    (["index", "{dir}/binary.dat"], E + "RESULTS_DIR:"),
]

TABLE = [(kind, args, field) for kind, cases in CASES.items() for args, field in cases]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """The files the cases point at, and tripwires on every engine and server start."""
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "binary.dat").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("prix = 'élevé'\n".encode("latin-1"))
    (tmp_path / "list-run").mkdir()
    (tmp_path / "list-run" / "run.json").write_text("[1, 2]")
    for folder, files in (("suites", BAD_SUITES), ("hardware", BAD_HARDWARE), ("assumptions", BAD_ASSUMPTIONS)):
        (tmp_path / folder).mkdir()
        for name, text in files.items():
            (tmp_path / folder / f"{name}.toml").write_text(text)
    good = point_record().to_json()
    for name, damage in BAD_RECORDS.items():
        run = write_run(tmp_path / "runs" / name, point_record())
        (run / "records.jsonl").write_text(json.dumps(damage(dict(good))) + "\n")
    (tmp_path / "runs" / "records-dir" / "records.jsonl").mkdir(parents=True)
    torn = write_run(tmp_path / "runs" / "torn-middle", point_record(), point_record(batch=4))
    lines = (torn / "records.jsonl").read_text().splitlines()
    (torn / "records.jsonl").write_text(lines[0][:40] + "\n" + lines[1] + "\n")
    bench = json.loads(BENCH_FILE.read_text())
    (tmp_path / "bench").mkdir()
    for name, damage in BAD_BENCH.items():
        (tmp_path / "bench" / f"{name}.json").write_text(json.dumps(damage(dict(bench))))
    models = tmp_path / "models"
    for name, change in BAD_CARDS.items():
        shutil.copytree(default_models_dir() / "tiny-moe", models / name)
        config = json.loads((models / name / "config.json").read_text())
        config = {k: v for k, v in (config | change).items() if v is not None}
        (models / name / "config.json").write_text(json.dumps(config))
    for name in ("tiny-dense", "tiny-moe"):
        shutil.copytree(default_models_dir() / name, models / name)
    monkeypatch.setenv("TOKENCOST_MODELS_DIR", str(models))
    monkeypatch.chdir(tmp_path)

    def tripwire(*args, **kwargs):
        raise AssertionError("an engine or server was started for bad input")

    import bench.offline
    import bench.serve.server

    monkeypatch.setattr(bench.offline, "_start_engine", tripwire)
    monkeypatch.setattr(bench.serve.server.VllmServer, "start", tripwire)
    return tmp_path


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("kind, args, field", TABLE, ids=[f"{k}: {' '.join(map(str, a))}" for k, a, _ in TABLE])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, capsys, kind, args, field):
    from tokencost.cli.main import main

    argv = [str(a).replace("{dir}", str(world)) for a in args]
    before, published = _snapshot(world), _snapshot(PUBLISHED)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse rejects an option's value before any command runs
        code = e.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err[-800:]}; stdout: {out[-400:]}"
    assert len(lines) == 1, err
    assert lines[0].startswith("tokencost: error: ") or lines[0].startswith("tokencost "), lines[0]
    field = field.replace("{dir}", str(world))
    assert lines[0].startswith(field) if field.startswith(E) else field in lines[0], lines[0]
    assert "Traceback" not in out + err and "Measuring into" not in out
    assert _snapshot(world) == before, "a file changed or appeared"
    assert _snapshot(PUBLISHED) == published


def test_the_table_covers_every_subcommand_and_at_least_150_cases():
    from tokencost.cli.main import COMMANDS

    used = {args[0] for _, args, _ in TABLE}
    assert used >= set(COMMANDS)
    assert len(TABLE) >= 150
    counts = {kind: len(cases) for kind, cases in CASES.items()}
    print("bad-input cases by kind:", json.dumps(counts), "total", len(TABLE))


def test_a_bug_shows_its_traceback_masked_says_it_is_a_bug_and_exits_3(monkeypatch, capsys):
    from bench.secrets import forget_all, remember
    from tokencost.cli import main as cli

    remember("sk-planted-marker-key")
    try:

        def broken(args):
            raise RuntimeError("boom with sk-planted-marker-key inside")

        monkeypatch.setitem(cli.COMMANDS, "presets", broken)
        assert cli.main(["presets"]) == 3
    finally:
        forget_all()
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom with" in err and "sk-planted-marker-key" not in err
    assert err.strip().splitlines()[-1].startswith("tokencost: internal error (RuntimeError): this is a bug")


def test_a_validation_error_never_echoes_a_url_password(capsys):
    from tokencost.cli.main import main

    assert main(["run", "--dry-run", "--endpoint", "ftp://user:s3cret-pass@host/v1", "--models", "tiny-dense"]) == 2
    err = capsys.readouterr().err
    assert "s3cret-pass" not in err and len(err.strip().splitlines()) == 1


def test_a_long_url_password_is_masked_before_the_value_is_cut(capsys):
    from tokencost.cli.main import main

    password = "p4ss" * 30  # long enough that the shown value is cut inside it
    assert main(["run", "--dry-run", "--endpoint", f"ftp://user:{password}@host/v1", "--models", "tiny-dense"]) == 2
    err = capsys.readouterr().err
    assert "p4ssp4ss" not in err and len(err.strip().splitlines()) == 1
