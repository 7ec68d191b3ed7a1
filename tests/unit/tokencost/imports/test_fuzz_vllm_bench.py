"""Fuzzing the `vllm bench serve` file reader: it returns, or raises a one-line UserError (tests.support.fuzz)."""

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.support import REPO
from tests.support.fuzz import FUZZ, mutated, raw, returns_or_user_error, write

BENCH_FILE = next((REPO / "tests" / "fixtures" / "vllm-bench-serve").glob("*.json"))

# `vllm bench serve --save-result` files.
BENCH = json.loads(BENCH_FILE.read_text())


@FUZZ
@given(st.one_of(mutated(BENCH).map(lambda b: json.dumps(b, allow_nan=True).encode()), raw))
def test_vllm_bench_files(data):
    from tokencost.imports.vllm_bench import read_vllm_bench

    returns_or_user_error(lambda: read_vllm_bench(write(data, "bench.json"), "h100-sxm", 1, None))
