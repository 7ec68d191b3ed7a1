"""The hardware catalog (data/hardware.toml): specs, prices and rental rates, each sourced and dated."""

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bench.errors import UserError

NUMERIC_FIELDS = (
    "memory_gb", "bandwidth_tbs", "tdp_w", "bf16_tflops", "fp8_tflops", "price_usd",
    "server_share_usd", "rental_usd_per_hour", "reserved_usd_per_hour", "idle_w",
)


@dataclass(frozen=True)
class SourcedValue:
    """A catalog number with where it came from and when."""

    value: float
    source: str
    date: str


@dataclass(frozen=True)
class HardwareEntry:
    key: str
    display_name: str
    match: str
    figures: dict[str, SourcedValue] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return figure.value if figure else None

    def require(self, name: str, fix: str) -> float:
        value = self.get(name)
        if value is None:
            raise UserError(f"hardware {self.key} {name}", "is not in the catalog", fix)
        return value

    @property
    def tdp_w(self) -> float:
        return self.require("tdp_w", "give tdp_w in a --hardware file")


def load_catalog(extra: Path | None = None) -> list[HardwareEntry]:
    """The shipped catalog, with a user's --hardware file's entries first (they win)."""
    shipped = _parse(resources.files("tokencost").joinpath("data/hardware.toml").read_text(), "hardware.toml")
    if extra is None:
        return shipped
    try:
        text = Path(extra).read_text()
    except FileNotFoundError:
        raise UserError("--hardware", f"{extra} does not exist", "give the path of a hardware TOML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError("--hardware", f"{extra} cannot be read as text ({getattr(e, 'strerror', None) or e})",
                        "give the path of a hardware TOML file") from None
    return _parse(text, str(extra)) + shipped


def _parse(text: str, where: str) -> list[HardwareEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(where, f"is not valid TOML ({e})", "fix the TOML") from None
    return [_entry(key, table, where) for key, table in data.items()]


def _entry(key: str, table: dict, where: str) -> HardwareEntry:
    if not isinstance(table, dict):
        raise UserError(f"{where} {key}", "is not a table", f"write it as [{key}] with its figures")
    figures = {}
    for name, raw in table.items():
        if name in ("display_name", "match"):
            continue
        if name not in NUMERIC_FIELDS:
            raise UserError(f"{where} {key}.{name}", "is not a catalog field", f"use one of: {', '.join(NUMERIC_FIELDS)}")
        # A user's file may give a bare number; the shipped catalog always gives value, source and date.
        raw = raw if isinstance(raw, dict) else {"value": raw, "source": f"user-supplied in {where}", "date": ""}
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            # TOML has nan and inf: either would price every token at nan or $0/inf without a word
            raise UserError(f"{where} {key}.{name}", f"is {value!r}", "give a finite number, 0 or more")
        figures[name] = SourcedValue(float(value), str(raw.get("source", "")), str(raw.get("date", "")))
    for name in ("display_name", "match"):
        if name in table and not isinstance(table[name], str):
            raise UserError(f"{where} {key}.{name}", f"is {table[name]!r}", "give it as a string")
    match = table.get("match", re.escape(key))
    try:
        re.compile(match)
    except re.error as e:
        raise UserError(f"{where} {key}.match", f"is not a regular expression ({e})", "fix the pattern") from None
    return HardwareEntry(key, table.get("display_name", key), match, figures)


def find_hardware(name: str, catalog: list[HardwareEntry]) -> HardwareEntry:
    """The catalog entry for a catalog key or a detected name such as 'NVIDIA H100 80GB HBM3'."""
    for entry in catalog:
        if entry.key == name:
            return entry
    for entry in catalog:
        if re.search(entry.match, name, re.IGNORECASE):
            return entry
    known = ", ".join(e.key for e in catalog)
    raise UserError(
        "hardware", f"{name!r} is not in the hardware catalog",
        f"supply its figures with --hardware FILE (TOML like tokencost/data/hardware.toml) or use one of: {known}",
    )
