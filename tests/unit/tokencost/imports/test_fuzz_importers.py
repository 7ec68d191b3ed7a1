"""Property-based fuzzing of every result-file importer and of gpu-table's inputs.toml: any input is read, or
refused in one line (a UserError, which the command line turns into exit 2), never anything else.

Each is fed raw bytes, a valid file with one field (at the top or one level in) replaced by an arbitrary
value, added or removed, and a valid file with a hostile number (huge, non-finite, deeply nested) spliced
into a field as raw JSON text.
"""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from tests.support import REPO
from tests.support.fuzz import values
from tokencost.imports.aiperf import read_aiperf
from tokencost.imports.guidellm import read_guidellm
from tokencost.imports.vllm_bench import read_vllm_bench
from tokencost.publish.gpu_table import read_inputs

# No max_examples: the project's Hypothesis profile decides how hard to try.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEERS = REPO / "tests" / "fixtures" / "peers"
IMPORTERS = {
    "vllm bench serve": (read_vllm_bench, next((REPO / "tests" / "fixtures" / "vllm-bench-serve").glob("*.json"))),
    "AIPerf": (read_aiperf, PEERS / "aiperf-tiny-dense-conc2.json"),
    "GuideLLM": (read_guidellm, PEERS / "guidellm-tiny-dense-conc2.json"),
}
SLOT = "@@value@@"

raw_numbers = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "0", "-0", "1e-400", "[" * 80 + "]" * 80]),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=0, max_value=20_000).map(lambda n: "[" * n + "]" * n),
    st.floats().map(repr),
)


def _paths(data, prefix=(), depth=2):
    """Every key path into `data` up to `depth` levels (list items and object keys)."""
    items = enumerate(data) if isinstance(data, list) else data.items() if isinstance(data, dict) else []
    for key, value in items:
        yield (*prefix, key)
        if depth > 1:
            yield from _paths(value, (*prefix, key), depth - 1)


def _replaced(data, path, value):
    data = json.loads(json.dumps(data))
    inner = data
    for key in path[:-1]:
        inner = inner[key]
    if value is _DROP and isinstance(inner, dict):
        del inner[path[-1]]
    elif value is not _DROP:
        inner[path[-1]] = value
    return data


_DROP = object()


def mutated_text(base: dict):
    """The file's text with one field (to two levels in) replaced, removed, or given raw hostile JSON text."""
    paths = sorted(set(_paths(base)), key=repr)
    path = st.sampled_from(paths)
    replaced = st.tuples(path, values | st.just(_DROP)).map(lambda pv: json.dumps(_replaced(base, *pv), allow_nan=True))
    spliced = st.tuples(path, raw_numbers).map(
        lambda pr: json.dumps(_replaced(base, pr[0], SLOT)).replace(json.dumps(SLOT), pr[1])
    )
    added = st.tuples(st.text(min_size=1, max_size=8), values).map(
        lambda kv: json.dumps(base | {kv[0]: kv[1]}, allow_nan=True)
    )
    return (replaced | spliced | added).map(str.encode)


def _write(data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    (folder / "result.json").write_bytes(data)
    return folder / "result.json"


def _read_or_one_line(call) -> None:
    try:
        call()
    except UserError as e:
        assert "\n" not in str(e) and "; " in str(e), str(e)


@pytest.mark.parametrize("tool", list(IMPORTERS))
def test_any_result_file_is_read_or_refused_in_one_line(tool):
    read, fixture = IMPORTERS[tool]
    base = json.loads(fixture.read_text())

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), mutated_text(base)))
    def check(content):
        _read_or_one_line(lambda: read(_write(content), "h100-sxm", 1, None))

    check()


@FUZZ
@given(st.one_of(st.binary(max_size=300), *(mutated_text(json.loads(f.read_text())) for _, f in IMPORTERS.values())))
def test_price_of_any_result_file_exits_0_or_2_with_one_line(content):
    from tokencost.cli.price import _imported

    _read_or_one_line(lambda: _imported(_write(content), "h100-sxm", 1, None))


GOOD_TABLE = {
    "models": ["tiny-dense"],
    "gpus": ["h100-sxm"],
    "shapes": [[1024, 1024]],
    "batch_sizes": [1, 8],
    "presets": ["owned"],
    "main_preset": "owned",
}
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["tiny-dense", "tiny-moe", "h100-sxm", "owned", "on-demand-rental"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=2)),
    max_leaves=6,
)


def _toml(value) -> str:
    """A value as TOML text (an inline table for a dict); a string TOML cannot hold makes the file invalid,
    which is one more input to refuse."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _table_text(table: dict) -> bytes:
    return ("[table]\n" + "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in table.items())).encode()


inputs_files = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.tuples(st.sampled_from(sorted(GOOD_TABLE)) | st.text(min_size=1, max_size=8), toml_values).map(
        lambda kv: _table_text(GOOD_TABLE | {kv[0]: kv[1]})
    ),
    st.sampled_from(sorted(GOOD_TABLE)).map(lambda k: _table_text({x: v for x, v in GOOD_TABLE.items() if x != k})),
    st.tuples(st.sampled_from(sorted(GOOD_TABLE)), st.integers(0, 1), toml_values).map(
        lambda kiv: _table_text(
            GOOD_TABLE
            | {kiv[0]: [*GOOD_TABLE[kiv[0]][: kiv[1]], kiv[2]] if isinstance(GOOD_TABLE[kiv[0]], list) else kiv[2]}
        )
    ),
)


@FUZZ
@given(inputs_files)
def test_any_inputs_toml_is_read_or_refused_in_one_line(content):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    (folder / "inputs.toml").write_bytes(content)
    _read_or_one_line(lambda: read_inputs(folder))
