"""Hostile files for the surfaces the first bad-input table did not reach: other tools' result files, the CI
gate's costs.csv, gpu-table's inputs.toml, model cards and the results index.

As in test_bad_input_table: each case runs the real command line in this process and must end with exit 2,
exactly one line on stderr naming the file and field, no traceback, and every file as it was.
"""

import csv
import json
import shutil
from pathlib import Path

import pytest

from bench.inputs.cards import default_models_dir
from tests.support import REPO

PEERS = REPO / "tests" / "fixtures" / "peers"
FILES = {
    "vllm": next((REPO / "tests" / "fixtures" / "vllm-bench-serve").glob("*.json")),
    "aiperf": PEERS / "aiperf-tiny-dense-conc2.json",
    "guidellm": PEERS / "guidellm-tiny-dense-conc2.json",
}
COSTS = REPO / "results" / "2026-11-27-cpu-demo" / "costs.csv"
DEMO_RUN = REPO / "results" / "2026-11-27-cpu-demo"
SLOT = "@@value@@"
DEEP = "[" * 100 + "]" * 100  # deeper than any result file, shallow enough for Python's json
DEEPER = "[" * 100_000  # deep enough for a RecursionError in Python's json

# Raw JSON texts no reader may take for a number: (text, what the one line must say instead of the field).
HOSTILE_NUMBERS = {
    "5000-digit integer": ("9" * 5000, None),
    "400-digit integer": ("9" * 400, None),
    "2^64": (str(2**64), None),
    "1e999": ("1e999", None),
    "-1e400": ("-1e400", None),
    "NaN": ("NaN", None),
    "-Infinity": ("-Infinity", None),
    "Infinity": ("Infinity", None),
    "nested 100 deep": (DEEP, "nested more than"),
}
# A numeric field of each tool's file, as a path of keys, and how the one line names it.
FIELDS = {
    "vllm": [(("duration",), "duration"), (("median_ttft_ms",), "median_ttft_ms"), (("completed",), "completed")],
    "aiperf": [
        (("request_count", "avg"), "request_count.avg"),
        (("time_to_first_token", "p50"), "time_to_first_token.p50"),
        (("output_token_throughput", "avg"), "output_token_throughput.avg"),
    ],
    "guidellm": [
        (("benchmarks", 0, "duration"), "benchmarks[0].duration"),
        (("benchmarks", 0, "start_time"), "benchmarks[0].start_time"),
        (
            ("benchmarks", 0, "metrics", "time_to_first_token_ms", "successful", "median"),
            "time_to_first_token_ms.successful.median",
        ),
    ],
}
TPOT = {
    "vllm": ("median_tpot_ms",),
    "aiperf": ("inter_token_latency", "p50"),
    "guidellm": ("benchmarks", 0, "metrics", "inter_token_latency_ms", "successful", "median"),
}


def _set(data, keys, value):
    data = json.loads(json.dumps(data))
    inner = data
    for key in keys[:-1]:
        inner = inner[key]
    inner[keys[-1]] = value
    return data


def _with_raw(tool: str, keys, raw: str) -> str:
    """The tool's file with the value at `keys` replaced by raw JSON text."""
    data = json.loads(FILES[tool].read_text())
    return json.dumps(_set(data, keys, SLOT)).replace(json.dumps(SLOT), raw)


IMPORTS: dict[str, tuple[str, str]] = {}  # file name: (its text, what the one line names)
for tool, fields in FIELDS.items():
    for keys, named in fields:
        for label, (raw, says) in HOSTILE_NUMBERS.items():
            IMPORTS[f"{tool} {named} {label}.json"] = (_with_raw(tool, keys, raw), says or named)
    IMPORTS[f"{tool} TPOT 0.json"] = (_with_raw(tool, TPOT[tool], "0"), ".".join(map(str, TPOT[tool][-2:])))
    IMPORTS[f"{tool} nested 100000 deep.json"] = (
        FILES[tool].read_text()[:-1] + ', "x": ' + DEEPER,
        "nested more than",
    )
for label, start in {"1e300": "1e300", "year 300000": "9.5e12", "2^63 - 1": str(2**63 - 1)}.items():
    IMPORTS[f"guidellm start_time {label}.json"] = (
        _with_raw("guidellm", ("benchmarks", 0, "start_time"), start),
        "benchmarks[0].start_time",
    )
for label, value in {"an object": "{}", "a string": '"x"', "null": "null", "a number": "3"}.items():
    IMPORTS[f"guidellm benchmarks {label}.json"] = (
        _with_raw("guidellm", ("benchmarks",), value),
        "benchmarks",
    )
IMPORTS |= {
    "top-level deep.json": (DEEPER, "nested more than"),
    "top-level huge integer.json": ("9" * 5000, "larger than 2^63"),
    "top-level NaN.json": ("NaN", "NaN"),
    "empty.json": ("", "not valid JSON"),
    "cut.json": ('{"aiperf_version": ', "not valid JSON"),
}
BYTES = {"binary.json": (b'{"a": \x00}', "binary"), "latin1.json": ('{"model_id": "é"}'.encode("latin-1"), "UTF-8")}

METRIC_VALUES = {
    "empty": "",
    "nan": "nan",
    "zero": "0",
    "negative": "-1.5",
    "inf": "inf",
    "-inf": "-inf",
    "text": "abc",
}
METRIC_COLUMNS = ("total_per_mtok_usd", "output_tok_s")

GOOD_INPUTS = {
    "models": '["tiny-dense"]',
    "gpus": '["h100-sxm"]',
    "shapes": "[[1024, 1024]]",
    "batch_sizes": "[1, 8]",
    "presets": '["owned"]',
    "main_preset": '"owned"',
}
BAD_INPUTS = {  # key: [TOML values it must refuse]
    "models": [
        "[inf]",
        "[3]",
        "[]",
        '"tiny-dense"',
        '[""]',
        '["no-such-model"]',
        "[true]",
        '["tiny-dense", "tiny-dense"]',
    ],
    "gpus": ["[]", '["tpu-v9"]', "[1]", '"h100-sxm"', '["h100-sxm", "h100-sxm"]'],
    "shapes": [
        "[]",
        "[[1024]]",
        "[[1, 2, 3]]",
        "[[0, 1024]]",
        "[[1024.5, 1024]]",
        '[["1024", "1024"]]',
        "[[true, 1024]]",
        "[[inf, 1024]]",
        "[[nan, 1024]]",
        "[[10000000000, 1024]]",
        '"1024x1024"',
    ],
    "batch_sizes": [
        "[]",
        "[true]",
        "[8.0]",
        "[8.5]",
        '["8"]',
        "[0]",
        "[-1]",
        "[100000000]",
        "[inf]",
        "[nan]",
        "[8, 8]",
    ],
    "presets": ["[]", '["nope"]', "[3]", '"owned"'],
    "main_preset": ['"nope"', "3", '""', "true"],
}

CARDS = {  # card name: change to tiny-moe's config.json (None removes the key)
    "vocab-2-70": {"vocab_size": 2**70},
    "vocab-2-30": {"vocab_size": 2**30},
    "hidden-2-40": {"hidden_size": 2**40},
    "layers-2-40": {"num_hidden_layers": 2**40},
    "heads-2-40": {"num_attention_heads": 2**40},
    "context-2-40": {"max_position_embeddings": 2**40},
    "experts-2-40": {"num_experts": 2**40},
    "intermediate-2-40": {"intermediate_size": 2**40},
    "arch-int": {"architectures": 5},
    "arch-str": {"architectures": "Qwen3MoeForCausalLM"},
    "arch-empty": {"architectures": []},
    "arch-list-of-int": {"architectures": [1]},
    "arch-object": {"architectures": {"a": 1}},
}
CARD_TEXTS = {  # card name: config.json text
    "config-1e999": '{"hidden_size": 1e999}',
    "config-huge-int": '{"hidden_size": ' + "9" * 5000 + "}",
    "config-nan": '{"hidden_size": NaN}',
    "config-deep": DEEPER,
    "config-deep-100": '{"hidden_size": ' + DEEP + "}",
}


@pytest.fixture(scope="module")
def costs_csv(tmp_path_factory) -> list[dict]:
    with COSTS.open() as f:
        return list(csv.DictReader(f))


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _inputs_toml(key: str, value: str | None) -> str:
    lines = ["[table]"] + [f"{k} = {v}" for k, v in GOOD_INPUTS.items() if k != key]
    return "\n".join(lines + ([f"{key} = {value}"] if value is not None else [])) + "\n"


@pytest.fixture
def world(tmp_path, monkeypatch, costs_csv):
    """Every hostile file the cases point at, and tripwires on every engine and server start."""
    imports = tmp_path / "imports"
    imports.mkdir()
    for name, (text, _) in IMPORTS.items():
        (imports / name).write_text(text)
    for name, (data, _) in BYTES.items():
        (imports / name).write_bytes(data)

    gate = tmp_path / "gate"
    gate.mkdir()
    _write_csv(gate / "good.csv", costs_csv)
    for column in METRIC_COLUMNS:
        for label, value in METRIC_VALUES.items():
            rows = [dict(r) for r in costs_csv]
            rows[1][column] = value
            _write_csv(gate / f"{column}-{label}.csv", rows)

    tables = tmp_path / "tables"
    for key, values in BAD_INPUTS.items():
        for i, value in enumerate(values):
            (tables / f"{key}-{i}").mkdir(parents=True)
            (tables / f"{key}-{i}" / "inputs.toml").write_text(_inputs_toml(key, value))
    for name, text in {
        "extra-key": _inputs_toml("colour", '"red"'),
        "missing-models": _inputs_toml("models", None),
        "no-table": 'models = ["tiny-dense"]\n',
        "table-number": "table = 3\n",
        "bad-toml": "[table\n",
        "too-long-to-hold": _inputs_toml("shapes", "[[5000000, 5000000]]").replace("tiny-dense", "qwen3-32b"),
    }.items():
        (tables / name).mkdir()
        (tables / name / "inputs.toml").write_text(text)
    (tables / "binary").mkdir()
    (tables / "binary" / "inputs.toml").write_bytes(b"[table]\x00")
    (tables / "inputs-dir" / "inputs.toml").mkdir(parents=True)
    (tables / "no-inputs").mkdir()

    models = tmp_path / "models"
    for name in ("tiny-dense", "tiny-moe", "qwen3-32b"):
        shutil.copytree(default_models_dir() / name, models / name)
    for name, change in CARDS.items():
        shutil.copytree(default_models_dir() / "tiny-moe", models / name)
        config = json.loads((models / name / "config.json").read_text())
        config = {k: v for k, v in (config | change).items() if v is not None}
        (models / name / "config.json").write_text(json.dumps(config))
    for name, text in CARD_TEXTS.items():
        shutil.copytree(default_models_dir() / "tiny-moe", models / name)
        (models / name / "config.json").write_text(text)
    shutil.copytree(default_models_dir() / "tiny-moe", models / "config-dir")
    (models / "config-dir" / "config.json").unlink()
    (models / "config-dir" / "config.json").mkdir()
    shutil.copytree(default_models_dir() / "tiny-moe", models / "config-dangling")
    (models / "config-dangling" / "config.json").unlink()
    (models / "config-dangling" / "config.json").symlink_to(tmp_path / "nowhere.json")
    shutil.copytree(default_models_dir() / "tiny-moe", models / "config-binary")
    (models / "config-binary" / "config.json").write_bytes(b'{"hidden_size": \x00}')
    shutil.copytree(default_models_dir() / "tiny-moe", models / "card-toml-dir")
    (models / "card-toml-dir" / "card.toml").unlink(missing_ok=True)
    (models / "card-toml-dir" / "card.toml").mkdir()
    shutil.copytree(default_models_dir() / "tiny-moe", models / "card-toml-binary")
    (models / "card-toml-binary" / "card.toml").write_bytes(b"kind = \xff\xfe\n")
    monkeypatch.setenv("TOKENCOST_MODELS_DIR", str(models))

    results = tmp_path / "results"
    for name in ("records-dir", "binary-about"):
        shutil.copytree(DEMO_RUN, results / name / "run")
    (results / "records-dir" / "run" / "records.jsonl").unlink()
    (results / "records-dir" / "run" / "records.jsonl").mkdir()
    (results / "binary-about" / "run" / "about.md").write_bytes(b"notes\x00\xff")
    monkeypatch.chdir(tmp_path)

    def tripwire(*args, **kwargs):
        raise AssertionError("an engine or server was started for bad input")

    import bench.offline
    import bench.serve.server

    monkeypatch.setattr(bench.offline, "_start_engine", tripwire)
    monkeypatch.setattr(bench.serve.server.VllmServer, "start", tripwire)
    return tmp_path


CASES: dict[str, list] = {}
CASES["result file"] = [
    (["price", f"imports/{name}", "--gpu", "h100-sxm"], [name, named]) for name, (_, named) in (IMPORTS | BYTES).items()
]
CASES["costs.csv metric"] = [
    (["compare", *sides, "--max-regression", "5%"], [f"{column}-{label}.csv", "row 2", column])
    for column in METRIC_COLUMNS
    for label in METRIC_VALUES
    for sides in (
        ("gate/good.csv", f"gate/{column}-{label}.csv"),
        (f"gate/{column}-{label}.csv", "gate/good.csv"),
    )
]
CASES["gpu-table inputs.toml"] = [
    (["gpu-table", f"tables/{key}-{i}"], ["inputs.toml", f"table.{key}"])
    for key, values in BAD_INPUTS.items()
    for i in range(len(values))
] + [
    (["gpu-table", "tables/extra-key"], ["inputs.toml", "colour", "is not a setting"]),
    (["gpu-table", "tables/missing-models"], ["inputs.toml", "table.models", "is missing"]),
    (["gpu-table", "tables/no-table"], ["inputs.toml", "table"]),
    (["gpu-table", "tables/table-number"], ["inputs.toml", "table"]),
    (["gpu-table", "tables/bad-toml"], ["inputs.toml", "TOML"]),
    (["gpu-table", "tables/too-long-to-hold"], ["inputs.toml", "shapes", "fits"]),
    (["gpu-table", "tables/binary"], ["inputs.toml", "binary"]),
    (["gpu-table", "tables/inputs-dir"], ["inputs.toml", "directory"]),
    (["gpu-table", "tables/no-inputs"], ["inputs.toml", "does not exist"]),
]
CASES["model card"] = (
    [
        (["project", "--model", name, "--gpu", "h100-sxm"], [f"{name}/config.json", next(iter(change))])
        for name, change in CARDS.items()
    ]
    + [
        (["project", "--model", name, "--gpu", "h100-sxm"], [f"{name}/config.json", says])
        for name, says in {
            "config-1e999": "hidden_size",
            "config-huge-int": "hidden_size",
            "config-nan": "hidden_size",
            "config-deep": "nested more than",
            "config-deep-100": "nested more than",
            "config-dir": "is a folder",
            "config-dangling": "missing",
            "config-binary": "binary",
        }.items()
    ]
    + [
        (["project", "--model", "card-toml-dir", "--gpu", "h100-sxm"], ["card-toml-dir/card.toml", "directory"]),
        (["project", "--model", "card-toml-binary", "--gpu", "h100-sxm"], ["card-toml-binary/card.toml", "UTF-8"]),
    ]
)
CASES["results index"] = [
    (["index", "results/records-dir"], ["records.jsonl", "is not a file"]),
    (["index", "results/binary-about"], ["about.md", "binary"]),
]
TABLE = [(kind, args, says) for kind, cases in CASES.items() for args, says in cases]


def _snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
        if not p.is_symlink()
    }


@pytest.mark.parametrize("kind, args, says", TABLE, ids=[f"{k}: {' '.join(a)}" for k, a, _ in TABLE])
def test_a_hostile_file_is_one_line_exit_2_and_changes_nothing(world, capsys, kind, args, says):
    from tokencost.cli.main import main

    before = _snapshot(world)
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err[-800:]}; stdout: {out[-400:]}"
    assert len(lines) == 1, err
    assert lines[0].startswith("tokencost: error: "), lines[0]
    for text in says:
        assert text in lines[0], lines[0]
    assert "; " in lines[0], f"no fix given: {lines[0]}"
    assert "Traceback" not in out + err
    assert _snapshot(world) == before, "a file changed or appeared"


def test_the_table_has_at_least_150_cases():
    assert len(TABLE) >= 150, len(TABLE)


def test_a_broken_card_is_listed_broken_and_the_others_still_list(world, capsys):
    from tokencost.cli.main import main

    code = main(["models"])
    out, _ = capsys.readouterr()
    listed = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert code == 1
    assert "BROKEN" not in listed["tiny-dense"] and "BROKEN" not in listed["tiny-moe"]
    for name in [*CARDS, *CARD_TEXTS, "config-dir", "config-dangling", "config-binary", "card-toml-dir"]:
        assert "BROKEN" in listed[name], name


def test_a_broken_card_does_not_stop_pricing_a_good_file(world, capsys):
    from tokencost.cli.main import main

    assert main(["price", str(FILES["vllm"]), "--gpu", "h100-sxm"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("setting", ["a file", "an empty folder", "a missing folder"])
def test_a_models_dir_that_holds_no_cards_is_refused_naming_the_variable(tmp_path, monkeypatch, capsys, setting):
    from tokencost.cli.main import main

    target = tmp_path / "models"
    if setting == "a file":
        target.write_text("")
    elif setting == "an empty folder":
        target.mkdir()
    monkeypatch.setenv("TOKENCOST_MODELS_DIR", str(target))
    assert main(["models"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "TOKENCOST_MODELS_DIR" in lines[0] and "unset it" in lines[0], lines
    assert out == ""  # not even the table's header
