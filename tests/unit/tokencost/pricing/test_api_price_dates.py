"""Hosted API prices: dated, sourced, with the dates they applied, cache-hit prices and several providers."""

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest

from bench.errors import UserError
from tokencost.pricing.api_prices import _price, find_api, in_force, is_superseded, load_api_prices, parse_date
from tokencost.pricing.assumptions import load_assumptions, preset_names

PRICES = load_api_prices()
REPO = Path(__file__).resolve().parents[4]
REFERENCES_COMPILED = "2026-11-27"  # the date the project's reference notes were compiled


@pytest.mark.parametrize("key", list(PRICES))
def test_every_price_is_sourced_dated_and_its_dates_are_in_order(key):
    price = PRICES[key]
    assert price.source.strip() and price.display_name.strip() and price.provider.strip()
    parse_date(price.date)
    assert price.input_per_mtok_usd > 0 and price.output_per_mtok_usd > 0
    if price.valid_from:
        parse_date(price.valid_from)
    if price.valid_to is not None:
        assert price.in_force_from <= parse_date(price.valid_to), key
    if price.cached_input_per_mtok_usd is not None:
        assert 0 < price.cached_input_per_mtok_usd <= price.input_per_mtok_usd, key
    if price.superseded_by is not None:
        assert price.superseded_by in PRICES and price.valid_to is not None, key


def test_the_default_comparator_and_every_presets_is_in_force():
    keys = {load_assumptions().api} | {load_assumptions(name).api for name in preset_names()}
    assert keys == {"gpt-4o-mini"}
    mini = find_api("gpt-4o-mini")
    assert in_force(mini, REFERENCES_COMPILED) and in_force(mini) and not is_superseded(mini)
    assert (mini.input_per_mtok_usd, mini.output_per_mtok_usd, mini.cached_input_per_mtok_usd) == (0.15, 0.60, 0.075)
    assert mini.valid_from == "2024-07-18" and mini.valid_to is None


def test_deepseek_price_history_is_dated_entries_each_ending_where_the_next_begins():
    history = [
        PRICES[key]
        for key in ("deepseek-v3-launch-promo", "deepseek-v3", "deepseek-v3.1", "deepseek-v3.2", "deepseek-v4-flash")
    ]
    assert [(p.input_per_mtok_usd, p.output_per_mtok_usd, p.cached_input_per_mtok_usd) for p in history] == [
        (0.14, 0.28, None),
        (0.27, 1.10, 0.07),
        (0.56, 1.68, 0.07),
        (0.28, 0.42, 0.028),
        (0.14, 0.28, 0.0028),
    ]
    assert [(p.valid_from, p.valid_to) for p in history[1:4]] == [
        ("2025-02-08", "2025-09-05"),
        ("2025-09-05", "2025-09-29"),
        ("2025-09-29", "2026-04-26"),
    ]
    for before, after in itertools.pairwise(history):
        assert before.superseded_by == after.key and parse_date(before.valid_to) == after.in_force_from


@pytest.mark.parametrize(
    "key, when, superseded",
    [
        ("deepseek-v3", "2025-09-04", False),
        ("deepseek-v3", "2025-09-05", True),
        ("deepseek-v3", "2025-09", False),  # a month reads as its first day
        ("deepseek-v3", "2026", True),
        ("deepseek-v3.1", dt.date(2025, 9, 28), False),
        ("deepseek-v3.1", dt.date(2025, 9, 29), True),
        ("mixtral-8x7b-mistral", REFERENCES_COMPILED, True),
        ("mixtral-8x7b-groq", "2025-03-19", False),
        ("llama-3.1-8b-groq", REFERENCES_COMPILED, True),
        ("gpt-4o-mini", "2030-01-01", False),
    ],
)
def test_is_superseded_at_a_date(key, when, superseded):
    assert is_superseded(PRICES[key], when) is superseded


def test_in_force_is_false_before_a_price_began():
    assert not in_force(PRICES["deepseek-v3.1"], "2025-09-04") and in_force(PRICES["deepseek-v3.1"], "2025-09-05")


def test_retired_mixtral_is_marked_so():
    assert PRICES["mixtral-8x7b-mistral"].valid_to == "2025-03-30"
    assert "retired" in PRICES["mixtral-8x7b-mistral"].source


def test_open_models_have_several_providers():
    providers = {}
    for price in PRICES.values():
        model = re.sub(
            r"-(together|groq|openrouter|novita|fireworks|cloudflare|cerebras|sambanova|mistral|deepinfra)$",
            "",
            price.key,
        )
        providers.setdefault(model, set()).add(price.provider)
    assert providers["llama-3.1-8b"] == {"Together", "Groq", "OpenRouter", "Novita", "Fireworks"}
    assert len(providers["llama-3.1-70b"]) >= 3 and len(providers["qwen3-30b-a3b"]) >= 3
    assert (PRICES["llama-3.1-8b-groq"].input_per_mtok_usd, PRICES["llama-3.1-8b-groq"].output_per_mtok_usd) == (
        0.05,
        0.08,
    )


def test_every_key_the_code_and_tests_name_is_in_the_file():
    named = set()
    for path in [*REPO.glob("tokencost/**/*.py"), *REPO.glob("tokencost/**/*.toml"), *REPO.glob("tests/**/*.py")]:
        text = path.read_text(errors="replace")
        named |= set(re.findall(r"""["'](gpt-4-launch|gpt-4o-mini|deepseek-v3[\w.-]*)["']""", text))
    assert {"gpt-4-launch", "gpt-4o-mini", "deepseek-v3"} <= named
    assert named <= set(PRICES), named - set(PRICES)


def test_an_unknown_api_is_one_line_and_case_is_forgiven():
    with pytest.raises(UserError) as e:
        find_api("gpt-5\nmini")
    message = str(e.value)
    assert "\n" not in message and message.startswith(
        "--api: 'gpt-5\\nmini' is not in the API price file; use one of: "
    )
    assert find_api("GPT-4o-Mini").key == "gpt-4o-mini"


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {
                "display_name": "x",
                "provider": "p",
                "input_per_mtok_usd": 1,
                "output_per_mtok_usd": 1,
                "date": "2025-26",
                "source": "s",
            },
            r"api_prices.toml k.date: is '2025-26'; write the date as YYYY, YYYY-MM or YYYY-MM-DD",
        ),
        (
            {
                "display_name": "x",
                "provider": "p",
                "input_per_mtok_usd": 1,
                "output_per_mtok_usd": 1,
                "date": "2025",
                "source": "s",
                "cached_input_per_mtok_usd": 2,
            },
            r"k.cached_input_per_mtok_usd: is above the input price",
        ),
        (
            {
                "display_name": "x",
                "provider": "p",
                "input_per_mtok_usd": 1,
                "output_per_mtok_usd": 1,
                "date": "2025",
                "source": "s",
                "valid_from": "2025-05",
                "valid_to": "2025-04",
            },
            r"k.valid_to: 2025-04 is before valid_from",
        ),
        (
            {
                "display_name": "x",
                "provider": "p",
                "input_per_mtok_usd": float("nan"),
                "output_per_mtok_usd": 1,
                "date": "2025",
                "source": "s",
            },
            r"k.input_per_mtok_usd: is nan",
        ),
        (
            {"display_name": "x", "provider": "p", "input_per_mtok_usd": 1, "date": "2025", "source": "s"},
            r"k.output_per_mtok_usd: is missing",
        ),
        (
            {
                "display_name": "x",
                "provider": "p",
                "input_per_mtok_usd": 1,
                "output_per_mtok_usd": 1,
                "date": "2025",
                "source": "s",
                "cache": 1,
            },
            r"k.cache: is not a setting; use one of: ",
        ),
    ],
)
def test_a_malformed_price_entry_is_named(entry, message):
    with pytest.raises(UserError, match=message):
        _price("k", entry)
