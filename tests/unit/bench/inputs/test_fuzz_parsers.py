"""Fuzzing the suite and model card parsers: they return, or raise a one-line UserError (tests.support.fuzz)."""

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.inputs.cards import default_models_dir, load_card
from bench.inputs.suite import Suite, load_suite
from bench.validation import parse
from tests.support.fuzz import FUZZ, mutated, raw, returns_or_user_error, write


# Suites: raw files through load_suite, structured values through the same validation.
@FUZZ
@given(raw)
def test_suite_files(data):
    returns_or_user_error(lambda: load_suite(write(data, "suite.toml")))


@FUZZ
@given(mutated(Suite().model_dump(mode="json")))
def test_suite_values(data):
    returns_or_user_error(lambda: parse(Suite, data, "suite").check())


# Model cards: a folder with a config.json and card.toml.
TINY_MOE = json.loads((default_models_dir() / "tiny-moe" / "config.json").read_text())


@FUZZ
@given(mutated(TINY_MOE), st.one_of(st.just(b""), raw))
def test_model_cards(config, card_toml):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-card-")) / "fuzzed"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "card.toml").write_bytes(card_toml)
    returns_or_user_error(lambda: load_card(str(folder)))


@FUZZ
@given(raw)
def test_model_card_config_bytes(data):
    folder = Path(tempfile.mkdtemp(prefix="fuzz-card-")) / "fuzzed"
    folder.mkdir()
    (folder / "config.json").write_bytes(data)
    returns_or_user_error(lambda: load_card(str(folder)))
