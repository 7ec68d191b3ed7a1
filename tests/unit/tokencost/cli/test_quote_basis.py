"""`quote` states its token basis: --output-tok-s prices per output token, --total-tok-s (alias --tok-s) per input
and output token split by --input-tokens-share; exactly one is given.

Expected figures come from the catalog and the owned preset's values: 1 H100 at its 700 W TDP, owned, paid off
straight-line over 4 years, power at $0.08/kWh x PUE 1.58.
"""

import json

import pytest

from tests.support.cli import tokencost
from tokencost.pricing.api_prices import find_api
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.publish.document import number

H100 = find_hardware("h100-sxm", load_catalog())
HOURLY = (H100.get("price_usd") + H100.get("server_share_usd")) / (4 * 8760) + 0.7 * 1.58 * 0.08


def quote(*args: str) -> str:
    result = tokencost("quote", "--gpu", "h100-sxm", *args)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # long lines are wrapped


def test_output_tokens_a_second_price_per_output_token():
    """vLLM's 'Output token throughput' pasted as is: 1,000 output tokens a second at 700 W."""
    text = quote("--output-tok-s", "1000")
    assert "at 1,000 output tok/s;" in text
    assert "0.7 J per output token; 1,428,571 output tok/s per MW" in text
    assert f"$/M output tokens: {number(HOURLY / 3.6)} (basis: output tokens;" in text
    assert "input+output" not in text


def test_total_tokens_a_second_are_split_and_priced_per_input_and_output_token():
    text = quote("--total-tok-s", "2000", "--input-tokens-share", "0.5")
    assert "at 2,000 input+output tok/s (1,000 input, 1,000 output: --input-tokens-share 0.5);" in text
    # the same deployment as 1,000 output tok/s: the same J per output token, half the $ per token counted
    assert "0.35 J per input+output token (0.7 J per output token)" in text
    assert f"$/M input+output tokens: {number(HOURLY / 7.2)} " in text


def test_tok_s_is_an_alias_of_total_tok_s():
    assert quote("--tok-s", "1000") == quote("--total-tok-s", "1000")
    help_text = " ".join(tokencost("quote", "--help").stdout.split())
    assert "--tok-s N alias of --total-tok-s" in help_text and "--output-tok-s N output tokens per second" in help_text


def test_the_api_is_priced_on_the_same_basis():
    api = find_api("gpt-4o-mini")
    # per output token: its own price plus its share of input tokens, 3 of them at a 0.75 input share
    per_output = api.output_per_mtok_usd + 3 * api.input_per_mtok_usd
    text = quote("--output-tok-s", "1000", "--input-tokens-share", "0.75")
    assert (
        "per M output tokens, their input tokens included (3 per output token at --input-tokens-share 0.75): " in text
    )
    assert f"${number(per_output)}, so self-hosting costs {number(HOURLY / 3.6 / per_output, 3)}x the API" in text
    mix = 0.75 * api.input_per_mtok_usd + 0.25 * api.output_per_mtok_usd
    assert f"at this token mix: ${number(mix)}/M input+output tokens" in quote(
        "--tok-s", "1000", "--input-tokens-share", "0.75"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "one of the arguments --output-tok-s --total-tok-s --tok-s is required"),
        (["--output-tok-s", "10", "--total-tok-s", "20"], "--total-tok-s: not allowed with argument --output-tok-s"),
        (["--tok-s", "10", "--total-tok-s", "20"], "--total-tok-s: not allowed with argument --tok-s"),
        (["--output-tok-s", "10", "--input-share", "0.2"], "--input-share: splits the hour by time spent on input"),
    ],
)
def test_exactly_one_basis_is_given(args, message):
    result = tokencost("quote", "--gpu", "h100-sxm", *args)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"tokencost: error: {message}"), line


def test_the_json_says_its_basis_and_leaves_out_what_the_output_basis_does_not_know():
    given = json.loads(tokencost("quote", "--gpu", "h100-sxm", "--output-tok-s", "1000", "--json").stdout)
    assert given["token_basis"] == "output"
    assert given["tok_s"] == {"total": None, "input": None, "output": 1000.0}
    assert (given["j_per_token"], given["tok_s_per_mw"], given["usd_per_mtok"]["total"]) == (None, None, None)
    assert given["j_per_output_token"] == pytest.approx(0.7)
    assert given["usd_per_output_mtok"] == pytest.approx(HOURLY / 3.6, rel=1e-12)
    split = json.loads(tokencost("quote", "--gpu", "h100-sxm", "--total-tok-s", "2000", "--json").stdout)
    assert split["token_basis"] == "input+output"
    assert split["usd_per_mtok"]["total"] == pytest.approx(HOURLY / 7.2, rel=1e-12)
    # the same deployment on either basis: the same hour over the same output tokens, the same ratio to the API
    for key in ("usd_per_output_mtok", "j_per_output_token", "output_tok_s_per_mw", "times_api"):
        assert split[key] == pytest.approx(given[key], rel=1e-12), key
