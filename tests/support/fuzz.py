"""What the parser fuzz tests share: arbitrary values and bytes, a valid file with one field changed, and the
one rule they check: a parser returns, or raises a one-line UserError, nothing else.

Each parser is fed both raw text (bytes that may not even be text) and structured values: a valid file with
one field replaced by an arbitrary value, added, or removed. Any other exception is a crash a user could
cause, and fails its test with the input that caused it. The fuzz tests live beside the tests of the modules
whose parsers they feed.
"""

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bench.errors import UserError
from tests.support.examples import examples

# 60 examples a parser in the full run (the ci profile); each writes a file, so no deadline.
FUZZ = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])

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


def returns_or_user_error(call) -> None:
    try:
        call()
    except UserError as e:
        assert "\n" not in str(e), str(e)


def write(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    (folder / name).write_bytes(data)
    return folder / name


def toml(value) -> str:
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
        return "[" + ", ".join(toml(v) for v in value if v is not None and not isinstance(v, dict)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items() if v is not None) + "}"
