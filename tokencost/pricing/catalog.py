"""The hardware catalog (data/hardware.toml): specs, prices and rental rates, each sourced and dated."""

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.errors import UserError

NUMERIC_FIELDS = (
    "memory_gb",
    "bandwidth_tbs",
    "tdp_w",
    "bf16_tflops",
    "fp8_tflops",
    "price_usd",
    "server_share_usd",
    "rental_usd_per_hour",
    "rental_min_usd_per_hour",
    "rental_max_usd_per_hour",
    "reserved_usd_per_hour",
    "idle_w",
)
TEXT_FIELDS = ("display_name", "match")
LIST_FIELDS = ("aliases",)
# Words that name a vendor or a product line, not a part: 'NVIDIA H200' and 'AMD Instinct MI300X' name h200 and mi300x.
VENDOR_WORDS = frozenset({"nvidia", "amd", "geforce", "instinct", "tesla", "radeon"})
EXAMPLE_RATE_USD_PER_HOUR = 2.0  # only a placeholder in an error's suggested command


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
    aliases: tuple[str, ...] = ()
    user_supplied: bool = False  # from a user's --hardware file: such entries win over shipped ones

    def get(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return figure.value if figure else None

    def require(self, name: str, fix: str) -> float:
        value = self.get(name)
        if value is None:
            raise UserError(f"hardware {self.key} {name}", self._missing(name), self._fix_for_missing(name, fix))
        return value

    def _missing(self, name: str) -> str:
        if name == "reserved_usd_per_hour":
            return f"is not in the catalog (no sourced term-contract rate for {self.display_name})"
        if name == "rental_usd_per_hour":
            return f"is not in the catalog (no sourced on-demand rate for {self.display_name})"
        return "is not in the catalog"

    def _fix_for_missing(self, name: str, fix: str) -> str:
        """The caller's fix, unless it points at a preset that needs a figure this entry also lacks."""
        rate_example = f"--set rate=rates --set 'rates={{{self.key}={EXAMPLE_RATE_USD_PER_HOUR:g}}}'"
        if name in ("rental_usd_per_hour", "reserved_usd_per_hour"):
            other = [
                preset
                for preset, figure in (
                    ("on-demand-rental", "rental_usd_per_hour"),
                    ("reserved-rental", "reserved_usd_per_hour"),
                    ("owned", "price_usd"),
                )
                if figure != name and self.get(figure) is not None
            ]
            instead = f"use --preset {' or --preset '.join(other)}, or price" if other else "price"
            return f"{instead} your own rate per GPU-hour: {rate_example}"
        if name == "price_usd" and self.get("rental_usd_per_hour") is None:
            if self.get("reserved_usd_per_hour") is not None:
                return "use a rental preset (--preset reserved-rental) or give price_usd in --hardware"
            return (
                f"rent it at your own rate (--preset on-demand-rental {rate_example}) or give price_usd in --hardware"
            )
        return fix

    @property
    def tdp_w(self) -> float:
        return self.require("tdp_w", "give tdp_w in a --hardware file")

    def names(self) -> set[str]:
        """The normalised key and aliases a user may type for this entry."""
        return {normalise(self.key)} | {normalise(alias) for alias in self.aliases}

    def words(self) -> set[str]:
        """Every word of the key and aliases: what a partial name such as 'A100' is matched against."""
        return {word for text in (self.key, *self.aliases) for word in normalise(text).split()}


def normalise(name: str) -> str:
    """Lower case, anything but letters and digits as spaces, vendor words dropped: 'NVIDIA H100-SXM' -> 'h100 sxm'."""
    words = re.sub(r"[^0-9a-z]+", " ", name.lower()).split()
    return " ".join(word for word in words if word not in VENDOR_WORDS)


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
        raise UserError(
            "--hardware",
            f"{extra} cannot be read as text ({getattr(e, 'strerror', None) or e})",
            "give the path of a hardware TOML file",
        ) from None
    return _parse(text, str(extra), user_supplied=True) + shipped


def _parse(text: str, where: str, user_supplied: bool = False) -> list[HardwareEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(where, f"is not valid TOML ({e})", "fix the TOML") from None
    return [_entry(key, table, where, user_supplied) for key, table in data.items()]


def _entry(key: str, table: dict[str, Any], where: str, user_supplied: bool) -> HardwareEntry:
    if not isinstance(table, dict):
        raise UserError(f"{where} {key}", "is not a table", f"write it as [{key}] with its figures")
    figures = {}
    for name, raw in table.items():
        if name in TEXT_FIELDS or name in LIST_FIELDS:
            continue
        if name not in NUMERIC_FIELDS:
            raise UserError(
                f"{where} {key}.{name}",
                "is not a catalog field",
                f"use one of: {', '.join(TEXT_FIELDS + LIST_FIELDS + NUMERIC_FIELDS)}",
            )
        # A user's file may give a bare number; the shipped catalog always gives value, source and date.
        raw = raw if isinstance(raw, dict) else {"value": raw, "source": f"user-supplied in {where}", "date": ""}
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            # TOML has nan and inf: either would price every token at nan or $0/inf without a word
            raise UserError(f"{where} {key}.{name}", f"is {value!r}", "give a finite number, 0 or more")
        figures[name] = SourcedValue(float(value), str(raw.get("source", "")), str(raw.get("date", "")))
    for name in TEXT_FIELDS:
        if name in table and not isinstance(table[name], str):
            raise UserError(f"{where} {key}.{name}", f"is {table[name]!r}", "give it as a string")
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and normalise(a) for a in aliases):
        raise UserError(f"{where} {key}.aliases", f"is {aliases!r}", 'give a list of names, e.g. aliases = ["H100"]')
    match = table.get("match", re.escape(key))
    try:
        re.compile(match)
    except re.error as e:
        raise UserError(f"{where} {key}.match", f"is not a regular expression ({e})", "fix the pattern") from None
    return HardwareEntry(key, table.get("display_name", key), match, figures, tuple(aliases), user_supplied)


def find_hardware(name: str, catalog: list[HardwareEntry]) -> HardwareEntry:
    """The catalog entry for a catalog key, an alias or a detected name such as 'NVIDIA H100 80GB HBM3'.

    Tried in order, the first step with any match deciding: the exact key; the key or an alias, ignoring case,
    punctuation and vendor words ('H100 SXM', 'nvidia h200'); the entries' `match` patterns against the name
    nvidia-smi reports; every word of the name among an entry's words ('A100' -> the four A100 entries). A user's
    --hardware entries win over shipped ones; several shipped entries left is an error listing them.
    """
    if not isinstance(name, str) or not name.strip():
        raise UserError(
            "hardware",
            f"{name!r} is {'empty' if isinstance(name, str) else 'not a name'}",
            "give a catalog key (e.g. h100-sxm) or the GPU name nvidia-smi reports",
        )
    for entry in catalog:
        if entry.key == name:
            return entry
    wanted = normalise(name)
    steps = (
        lambda entry: wanted in entry.names(),
        lambda entry: re.search(entry.match, name, re.IGNORECASE) is not None,
        lambda entry: bool(wanted) and set(wanted.split()) <= entry.words(),
    )
    for matches in steps:
        found = _distinct([entry for entry in catalog if matches(entry)])
        if len(found) == 1:
            return found[0]
        if found:
            keys = [entry.key for entry in found]
            raise UserError(
                "hardware",
                f"{name!r} matches several catalog entries ({', '.join(keys)})",
                f"give one of them, e.g. --gpu {keys[0]}",
            )
    known = ", ".join(dict.fromkeys(entry.key for entry in catalog))
    raise UserError(
        "hardware",
        f"{name!r} is not in the hardware catalog",
        f"supply its figures with --hardware FILE (TOML like tokencost/data/hardware.toml) or use one of: {known}",
    )


def _distinct(entries: list[HardwareEntry]) -> list[HardwareEntry]:
    """One entry per key, the first (a user's) kept; only the user's entries if any of them is there."""
    if any(entry.user_supplied for entry in entries):
        entries = [entry for entry in entries if entry.user_supplied]
    seen: dict[str, HardwareEntry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return list(seen.values())
