"""Hosted API prices (data/api_prices.toml), each dated and sourced."""

import tomllib
from dataclasses import dataclass
from importlib import resources

from bench.errors import UserError


@dataclass(frozen=True)
class ApiPrice:
    key: str
    display_name: str
    provider: str
    input_per_mtok_usd: float
    output_per_mtok_usd: float
    date: str
    source: str


def load_api_prices() -> dict[str, ApiPrice]:
    data = tomllib.loads(resources.files("tokencost").joinpath("data/api_prices.toml").read_text())
    return {key: ApiPrice(key=key, **entry) for key, entry in data.items()}


def find_api(key: str) -> ApiPrice:
    prices = load_api_prices()
    if key not in prices:
        raise UserError("--api", f"{key!r} is not in the API price file", f"use one of: {', '.join(prices)}")
    return prices[key]


def blended_per_mtok(api: ApiPrice, input_tokens: float, output_tokens: float) -> float:
    """The API's $/M tokens for a workload's mix of input and output tokens."""
    total = input_tokens + output_tokens
    return (input_tokens * api.input_per_mtok_usd + output_tokens * api.output_per_mtok_usd) / total
