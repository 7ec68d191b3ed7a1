"""Hosted API prices (data/api_prices.toml), each dated and sourced, with the dates each price was in force."""

import datetime as dt
import re
import tomllib
from importlib import resources
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from bench.errors import UserError
from bench.validation import as_user_error

DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _a_date(text: str) -> str:
    try:
        parse_date(text)
    except ValueError:
        raise PydanticCustomError("date", "write the date as YYYY, YYYY-MM or YYYY-MM-DD") from None
    return text


Date = Annotated[str, AfterValidator(_a_date)]
PerMillion = Annotated[float, Field(gt=0)]  # USD per million tokens


class ApiPrice(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)

    key: str  # the entry's [table] name
    display_name: str
    provider: str
    input_per_mtok_usd: PerMillion
    output_per_mtok_usd: PerMillion
    date: Date  # when the price was seen in force (YYYY, YYYY-MM or YYYY-MM-DD)
    source: str
    valid_from: Date | None = None  # first day the price applied; None when only `date` is known
    valid_to: Date | None = None  # the day it stopped applying; None: still in force as of its source
    cached_input_per_mtok_usd: PerMillion | None = None  # input served from the provider's prompt cache, if published
    superseded_by: str | None = None  # the key of the price that replaced it, if in the file

    @property
    def in_force_from(self) -> dt.date:
        return parse_date(self.valid_from or self.date)


def parse_date(text: str) -> dt.date:
    """A YYYY, YYYY-MM or YYYY-MM-DD date as the first day of that year, month or day."""
    m = DATE.match(text.strip()) if isinstance(text, str) else None
    try:
        if m is None:
            raise ValueError
        return dt.date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:  # no match, or a month or day out of range
        raise ValueError(f"{text!r} is not a date like 2025, 2025-09 or 2025-09-05") from None


def _as_date(when: dt.date | str | None) -> dt.date:
    if when is None:
        return dt.date.today()
    return when if isinstance(when, dt.date) else parse_date(when)


def is_superseded(api: ApiPrice, when: dt.date | str | None = None) -> bool:
    """Whether the price had stopped applying by `when` (default today): its valid_to is on or before it."""
    return api.valid_to is not None and parse_date(api.valid_to) <= _as_date(when)


def in_force(api: ApiPrice, when: dt.date | str | None = None) -> bool:
    """Whether the price applied on `when` (default today), as far as its sources say."""
    return api.in_force_from <= _as_date(when) and not is_superseded(api, when)


def load_api_prices() -> dict[str, ApiPrice]:
    text = resources.files("tokencost").joinpath("data/api_prices.toml").read_text()
    return {key: _price(key, entry) for key, entry in tomllib.loads(text).items()}


PRICE_FILE = TypeAdapter(dict[str, ApiPrice])


def _price(key: str, entry: object) -> ApiPrice:
    """One [key] table of the file, validated; a problem is a UserError naming the table and field."""
    where = f"api_prices.toml {key}"
    if not isinstance(entry, dict):
        raise UserError(where, "is not a table", "write it as [key] with its fields")
    try:  # validated under its key, so that a problem reads `key.field` as in the other files
        price = PRICE_FILE.validate_python({key: entry | {"key": key}})[key]
    except ValidationError as e:
        raise as_user_error(e, ApiPrice, "api_prices.toml") from None
    if price.cached_input_per_mtok_usd is not None and price.cached_input_per_mtok_usd > price.input_per_mtok_usd:
        raise UserError(
            f"{where}.cached_input_per_mtok_usd",
            "is above the input price",
            "give the provider's cache-hit input price",
        )
    if price.valid_to is not None and parse_date(price.valid_to) < price.in_force_from:
        raise UserError(
            f"{where}.valid_to",
            f"{price.valid_to} is before valid_from {price.valid_from}",
            "give the day the price stopped applying",
        )
    return price


def find_api(key: str) -> ApiPrice:
    prices = load_api_prices()
    if key in prices:
        return prices[key]
    by_case = {k.lower(): k for k in prices}
    if isinstance(key, str) and key.strip().lower() in by_case:
        return prices[by_case[key.strip().lower()]]
    raise UserError("--api", f"{key!r} is not in the API price file", f"use one of: {', '.join(prices)}")


def cached_input_price(api: ApiPrice) -> tuple[float, str]:
    """The API's $/M for input served from its prompt cache, and where it comes from in words: its published
    cached price, or its input price where it publishes none."""
    if api.cached_input_per_mtok_usd is not None:
        return api.cached_input_per_mtok_usd, f"{api.display_name}'s cached-input price"
    return api.input_per_mtok_usd, f"{api.display_name}'s input price (it publishes no cached-input price)"


def blended_per_mtok(api: ApiPrice, input_tokens: float, output_tokens: float, cached_tokens: float = 0) -> float:
    """The API's $/M tokens for a workload's mix of input and output tokens; `cached_tokens` of the input tokens
    priced as served from its prompt cache (cached_input_price), like for like with a point's prefix-cache hits."""
    total = input_tokens + output_tokens
    cached = cached_tokens * cached_input_price(api)[0] if cached_tokens else 0.0
    return (
        (input_tokens - cached_tokens) * api.input_per_mtok_usd + cached + output_tokens * api.output_per_mtok_usd
    ) / total
