"""The printed cost tables: a compact default that fits 120 terminal columns with numbers in fixed notation,
every column with --wide, and the files (costs.csv, costs.json) untouched by either.

The CPU demo records are a copy of a real published run; the serving records are the published serving demo
(results/2026-11-28-cpu-serve-demo); the H100 run is SYNTHETIC (tests/support/records_factory).
"""

import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.run.records import read_records
from tests.conftest import CPU_DEMO
from tests.support import REPO
from tests.support.cli import tokencost
from tests.support.records_factory import point_record, synthetic_h100_records
from tokencost.publish.columns import (
    CONSOLE_WIDTH,
    OFFLINE_COMPACT,
    OFFLINE_HEADERS,
    compact_view,
    console_tables,
    markdown_table,
    shown,
)
from tokencost.publish.document import Methods, number, stated_once

SERVE_DEMO = REPO / "results" / "2026-11-28-cpu-serve-demo"
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


@pytest.fixture(scope="module")
def cpu(pricing):
    return pricing.price(read_records(CPU_DEMO))


@pytest.fixture(scope="module")
def cpu_and_h100(pricing):
    return pricing.price(read_records(CPU_DEMO) + synthetic_h100_records())


@pytest.fixture(scope="module")
def serving(pricing):
    return pricing.price(read_records(SERVE_DEMO))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.00006566, "0.00006566"),
        (0.000235712, "0.0002357"),
        (0.0536, "0.0536"),
        (5.46875, "5.469"),
        (101.6247, "101.6"),
        (3455.2, "3,455"),
        (12703.4, "12,703"),
        (1.0, "1"),
        (0.0, "0"),
        (-0.0123, "-0.0123"),
        (float("nan"), ""),
        (None, ""),
    ],
)
def test_numbers_have_four_significant_digits_in_fixed_notation(value, text):
    assert number(value) == text


@given(st.floats(min_value=1e-9, max_value=1e9) | st.floats(min_value=-1e9, max_value=-1e-9))
def test_a_number_is_never_scientific_and_reads_back_within_its_digits(value):
    text = number(value)
    assert not SCIENTIFIC.search(text) and "e" not in text
    assert float(text.replace(",", "")) == pytest.approx(value, rel=5e-4)


def test_texts_that_differ_only_in_their_numbers_are_stated_once_with_the_range():
    texts = ["2 vCPU x 99.6% measured", "2 vCPU x 100.0% measured", "2 vCPU x 99.9% measured", "RAPL 3 W", "RAPL 3 W"]
    assert stated_once(texts) == ["2 vCPU x 99.6–100.0% measured", "RAPL 3 W"]
    assert stated_once(["a 1 b", "a 1 b 2"]) == ["a 1 b", "a 1 b 2"]  # other words: other texts


def test_methods_are_numbered_in_order_and_cited_together():
    methods = Methods(["m1", "m2", float("nan"), "m1"])
    assert methods.lines() == ["[1] m1", "[2] m2"]
    assert methods.cite(["m2", "m1", "m2"]) == "methods [1], [2]" and methods.caption(["m2"]) == "Method [2]"
    assert methods.cite(["other"]) == "" and methods.ref("m2") == "[2]"


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_cpu_demo_fits_120_columns_with_its_method_stated_once(cpu):
    text = console_tables(cpu)
    assert max(map(len, _lines(text))) <= CONSOLE_WIDTH, text
    header = _lines(text)[0].split()
    assert header == ["model", "engine", "batch", "out", "tok/s", "W", "J/out", "tok", "$/M", "in+out", "x", "API"]
    (label,) = set(cpu.offline["label"])
    assert text.count(label) == 1 and f"[1] {label}" in text
    words = " ".join(text.split())  # the every-row line wraps at the console's width
    assert (
        "Every row: precision bf16; hardware cpu-vcpu;" in words
        and "checks failed: window_length; method [1]." in words
    )
    # the cheapest point's $/M, as in the published report, in fixed notation
    row = next(line for line in _lines(text) if line.startswith("tiny-moe") and " vllm " in line and " 64 " in line)
    assert row.split()[6:8] == ["0.0002357", "0.000629"]
    assert not SCIENTIFIC.search(text)


def test_dollars_are_in_fixed_notation_where_the_wide_table_was_scientific(cpu):
    """$/M input of the transformers batch 4 point is 7.747e-05: the old view printed it so."""
    cheap = cpu.offline.assign(total_per_mtok_usd=cpu.offline["input_per_mtok_usd"])
    assert (cheap["total_per_mtok_usd"] < 1e-4).any()
    compact, _ = compact_view(cheap, OFFLINE_COMPACT, Methods.of(cheap))
    assert "0.00007747" in set(compact["$/M in+out"])
    assert not any(SCIENTIFIC.search(cell) for cell in compact.to_numpy().ravel())


def test_two_hardware_fit_120_columns_citing_each_method(cpu_and_h100):
    text = console_tables(cpu_and_h100)
    assert max(map(len, _lines(text))) <= CONSOLE_WIDTH, text
    labels = list(dict.fromkeys(cpu_and_h100.offline["label"]))
    assert len(labels) == 2
    for n, label in enumerate(labels, 1):
        assert text.count(label) == 1 and f"\n[{n}] {label}" in text
    header = _lines(text)[0].split()
    assert "hardware" in header and "method" in header
    rows = [line.split() for line in _lines(text)[2:] if line.startswith("tiny-")]
    assert (
        len(rows) == 24 and {r[2] for r in rows} == {"cpu-vcpu", "h100-sxm"} and {r[-1] for r in rows} == {"[1]", "[2]"}
    )


def test_checks_that_differ_are_counted_per_row_and_named_once(pricing):
    priced = pricing.price([point_record(batch=1), point_record(batch=4)]).offline
    priced.loc[1, "checks"] = "ok"
    table, notes = compact_view(priced, OFFLINE_COMPACT, Methods.of(priced))
    assert list(table["checks"]) == ["1 failed", "ok"]
    assert "Failed checks: window_length (--wide names them per row)." in notes


def test_the_serving_demo_fits_120_columns(serving):
    text = console_tables(serving)
    assert max(map(len, _lines(text))) <= CONSOLE_WIDTH, text
    assert _lines(text)[0].split()[:3] == ["model", "load", "out"] and "tok/s/user" in _lines(text)[0]
    assert "within SLO" in _lines(text)[0] and "100%" in _lines(text)[2]
    assert "Every row: engine vllm; precision bf16; hardware cpu-vcpu;" in " ".join(text.split())


def test_wide_prints_every_column_as_before(cpu):
    wide = console_tables(cpu, wide=True)
    assert wide == markdown_table(shown(cpu.offline, OFFLINE_HEADERS))
    header = [h.strip() for h in _lines(wide)[0].strip("|").split("|")]
    assert header == list(shown(cpu.offline, OFFLINE_HEADERS).columns)
    assert {"$/M input", "$/M output", "input/output split", "validity checks", "method"} <= set(header)
    assert not SCIENTIFIC.search(wide)


def test_a_column_the_pricing_does_not_give_is_left_out_not_blank(cpu):
    without = cpu.offline.drop(columns=[c for c in ("power_boundary", "tok_s_per_mw") if c in cpu.offline])
    assert "tok/s per MW" not in shown(without, OFFLINE_HEADERS)
    table, notes = compact_view(without, OFFLINE_COMPACT, Methods.of(without))
    assert "boundary" not in table and not any("boundary" in note for note in notes)


def test_the_cli_prints_the_compact_table_by_default_and_every_column_with_wide(tmp_path):
    compact = tokencost("price", CPU_DEMO, "--csv", tmp_path / "compact.csv")
    wide = tokencost("price", CPU_DEMO, "--wide", "--csv", tmp_path / "wide.csv")
    assert compact.returncode == 0 and wide.returncode == 0, compact.stderr + wide.stderr
    assert max(map(len, compact.stdout.splitlines())) <= CONSOLE_WIDTH
    assert "$/M input" not in compact.stdout and "$/M input" in wide.stdout and "Methods:" not in wide.stdout
    # the file holds every column whatever the view
    assert pd.read_csv(tmp_path / "compact.csv").equals(pd.read_csv(tmp_path / "wide.csv"))
    assert "input_per_mtok_usd" in pd.read_csv(tmp_path / "compact.csv")
