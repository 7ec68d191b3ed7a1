"""Property-based fuzzing of every parser of user files: it returns, or raises a one-line UserError, nothing else.

Each parser is fed both raw text (bytes that may not even be text) and structured values: a valid file
with one field replaced by an arbitrary value, added, or removed. Any other exception is a crash a user
could cause, and fails here with the input that caused it.
"""

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from bench.inputs.cards import default_models_dir, load_card
from bench.inputs.suite import Suite, load_suite
from bench.run.records import read_records
from bench.validation import parse
from tests.support import REPO
from tests.support.records_factory import point_record

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BENCH_FILE = next((REPO / "tests" / "fixtures" / "vllm-bench-serve").glob("*.json"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
raw = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode))


def mutated(base: dict):
    """`base` with one key (possibly new) set to an arbitrary value, or one key removed."""
    keys = st.sampled_from(sorted(base)) | st.text(min_size=1, max_size=8)
    set_one = st.tuples(keys, values).map(lambda kv: base | {kv[0]: kv[1]})
    drop_one = st.sampled_from(sorted(base)).map(lambda k: {x: v for x, v in base.items() if x != k})
    return set_one | drop_one


def _returns_or_user_error(call) -> None:
    try:
        call()
    except UserError as e:
        assert "\n" not in str(e), str(e)


def _write(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    (folder / name).write_bytes(data)
    return folder / name


def _toml(value) -> str:
    """A TOML rendering of JSON-like data good enough to reach the parsers' checks (strings via JSON escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value if v is not None and not isinstance(v, dict)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items() if v is not None) + "}"


# Suites: raw files through load_suite, structured values through the same validation.
@FUZZ
@given(raw)
def test_suite_files(data):
    _returns_or_user_error(lambda: load_suite(_write(data, "suite.toml")))


@FUZZ
@given(mutated(Suite().model_dump(mode="json")))
def test_suite_values(data):
    _returns_or_user_error(lambda: parse(Suite, data, "suite").check())


# Model cards: a folder with a config.json and card.toml.
TINY_MOE = json.loads((default_models_dir() / "tiny-moe" / "config.json").read_text())


@FUZZ
@given(mutated(TINY_MOE), st.one_of(st.just(b""), raw))
def test_model_cards(config, card_toml):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-card-")) / "fuzzed"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "card.toml").write_bytes(card_toml)
    _returns_or_user_error(lambda: load_card(str(folder)))


@FUZZ
@given(raw)
def test_model_card_config_bytes(data):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-card-")) / "fuzzed"
    folder.mkdir()
    (folder / "config.json").write_bytes(data)
    _returns_or_user_error(lambda: load_card(str(folder)))


# Records: a run directory whose records.jsonl holds a damaged record, or arbitrary bytes.
GOOD_RECORD = point_record().to_json()


@FUZZ
@given(mutated(GOOD_RECORD))
def test_records(record):
    folder = _write(json.dumps(record, allow_nan=True).encode() + b"\n", "records.jsonl").parent
    _returns_or_user_error(lambda: read_records(folder))


@FUZZ
@given(raw)
def test_record_bytes(data):
    _returns_or_user_error(lambda: read_records(_write(data, "records.jsonl").parent))


# Hardware catalogs and assumption files (TOML).
HARDWARE_ENTRY = {"match": "MY GPU", "tdp_w": 300, "price_usd": 1000, "memory_gb": 24}


@FUZZ
@given(
    st.one_of(
        raw,
        mutated(HARDWARE_ENTRY).map(
            lambda e: (
                "[my-gpu]\n" + "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in e.items() if v is not None)
            ).encode()
        ),
    )
)
def test_hardware_files(data):
    from tokencost.pricing.catalog import find_hardware, load_catalog

    path = _write(data, "hardware.toml")
    _returns_or_user_error(lambda: find_hardware("MY GPU", load_catalog(path)))


@FUZZ
@given(
    st.one_of(
        raw,
        st.dictionaries(
            st.sampled_from(
                ["usd_per_kwh", "pue", "amortization_years", "utilization", "hosting_usd_per_gpu_hour", "surprise"]
            ),
            scalars,
            max_size=3,
        ).map(lambda d: "".join(f"{k} = {_toml(v)}\n" for k, v in d.items() if v is not None).encode()),
    )
)
def test_assumption_files(data):
    from tokencost.pricing.assumptions import load_assumptions

    _returns_or_user_error(lambda: load_assumptions(None, _write(data, "assumptions.toml")))


# `vllm bench serve --save-result` files.
BENCH = json.loads(BENCH_FILE.read_text())


@FUZZ
@given(st.one_of(mutated(BENCH).map(lambda b: json.dumps(b, allow_nan=True).encode()), raw))
def test_vllm_bench_files(data):
    from tokencost.imports.vllm_bench import read_vllm_bench

    _returns_or_user_error(lambda: read_vllm_bench(_write(data, "bench.json"), "h100-sxm", 1, None))


# Priced tables given to `tokencost compare`.
@FUZZ
@given(raw)
def test_cost_tables(data):
    from tokencost.gate.compare import load_points
    from tokencost.pricing.assumptions import load_assumptions
    from tokencost.pricing.catalog import load_catalog
    from tokencost.pricing.priced_runs import Pricing

    pricing = Pricing.of(load_assumptions(None), load_catalog())
    _returns_or_user_error(lambda: load_points(_write(data, "costs.csv"), pricing, "BASELINE"))
