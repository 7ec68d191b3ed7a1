"""Economic assumptions: a preset (data/presets.toml), a user's override file, and --set flags."""

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

from bench.errors import UserError

OWNERSHIPS = ("owned", "rented")
RATE_FIELDS = ("rental_usd_per_hour", "reserved_usd_per_hour", "rates")

# number fields -> (lowest, highest, lowest allowed itself)
LIMITS = {
    "life_years": (0, 50, False),
    "cost_of_capital": (0, 1, True),
    "utilization": (0, 1, False),
    "usd_per_kwh": (0, 10, True),
    "pue": (1, 5, True),
    "hosting_usd_per_kw_month": (0, 10_000, True),
    "idle_power_fraction": (0, 1, True),
}


@dataclass(frozen=True)
class Assumptions:
    name: str
    description: str
    ownership: str
    life_years: float
    cost_of_capital: float
    utilization: float
    include_server_share: bool
    usd_per_kwh: float
    pue: float
    hosting_usd_per_kw_month: float
    idle_power_fraction: float
    rate: str  # for rented: which catalog rate, or "rates" for the preset's own table
    rates: dict = field(default_factory=dict)
    api: str = "gpt-4o-mini"
    sources: dict = field(default_factory=dict)

    @property
    def hash(self) -> str:
        values = asdict(self)
        values.pop("sources")
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]

    def to_record(self) -> dict:
        return asdict(self) | {"hash": self.hash}

    def with_changes(self, **changes) -> "Assumptions":
        return _validated(replace(self, **changes))


def _presets() -> dict:
    return tomllib.loads(resources.files("tokencost").joinpath("data/presets.toml").read_text())


def preset_names() -> list[str]:
    return [k for k, v in _presets().items() if isinstance(v, dict)]


def load_assumptions(preset: str | None = None, override: Path | None = None, settings=()) -> Assumptions:
    """The named preset (default: the catalog's default), then an override file, then key=value settings."""
    presets = _presets()
    name = preset or presets["default"]
    if name not in preset_names():
        raise UserError("--preset", f"{name!r} is not a preset", f"use one of: {', '.join(preset_names())}")
    values, sources = _flatten(presets[presets["default"]])  # every field has a value...
    preset_values, preset_sources = _flatten(presets[name])  # ...and the preset says its own
    values |= preset_values
    sources |= preset_sources
    values["name"] = name
    if override is not None:
        file_values, file_sources = _flatten(_read_override(Path(override)), f"from {override}")
        _check_keys(file_values, f"assumptions file {override}")
        values |= file_values
        sources |= file_sources
        values["name"] = file_values.get("name", f"{name}+{Path(override).stem}")
    for setting in settings:
        key, value = _parse_setting(setting)
        _check_keys({key: value}, "--set")
        values[key] = value
        sources[key] = f"set on the command line: {setting}"
        values["name"] = values["name"] if values["name"].endswith("+set") else values["name"] + "+set"
    return _build(values, sources)


def _flatten(table: dict, default_source: str = "") -> tuple[dict, dict]:
    values, sources = {}, {}
    for key, raw in table.items():
        if isinstance(raw, dict) and "value" in raw:
            values[key] = raw["value"]
            sources[key] = raw.get("source", default_source)
        else:
            values[key] = raw
            if default_source and key not in ("name", "description"):
                sources[key] = default_source
    return values, sources


def _known_keys() -> set[str]:
    return {f for f in Assumptions.__dataclass_fields__ if f not in ("sources",)}


def _check_keys(values: dict, where: str) -> None:
    for key in values:
        if key not in _known_keys():
            raise UserError(f"{where} {key}", "is not an assumption", f"use one of: {', '.join(sorted(_known_keys()))}")


def _read_override(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError("--assumptions", f"{path} does not exist", "give the path of a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError("--assumptions", f"{path} is not valid TOML ({e})", "fix the TOML") from None


def _parse_setting(setting: str) -> tuple[str, object]:
    key, sep, text = setting.partition("=")
    if not sep or not key.strip():
        raise UserError("--set", f"{setting!r} is not key=value", "write e.g. --set usd_per_kwh=0.12")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word, e.g. ownership=rented
    return key.strip(), value


def _build(values: dict, sources: dict) -> Assumptions:
    fields = {k: v for k, v in values.items() if k in _known_keys()}
    try:
        assumptions = Assumptions(sources=sources, **fields)
    except TypeError as e:  # a field the presets always give is missing: a broken presets file
        raise UserError("presets.toml", str(e), "give every assumption in the default preset") from None
    return _validated(assumptions)


def _validated(a: Assumptions) -> Assumptions:
    for key, (low, high, low_inclusive) in LIMITS.items():
        value = getattr(a, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"assumptions {key}", f"is {value!r}", "give a number")
        if not ((value >= low if low_inclusive else value > low) and value <= high):
            bracket = "[" if low_inclusive else "("
            raise UserError(f"assumptions {key}", f"is {value}", f"give a value in {bracket}{low}, {high}]")
    if a.ownership not in OWNERSHIPS:
        raise UserError("assumptions ownership", f"is {a.ownership!r}", "use 'owned' or 'rented'")
    if not isinstance(a.include_server_share, bool):
        raise UserError("assumptions include_server_share", f"is {a.include_server_share!r}", "use true or false")
    if a.ownership == "rented" and a.rate not in RATE_FIELDS:
        raise UserError("assumptions rate", f"is {a.rate!r}", f"use one of: {', '.join(RATE_FIELDS)}")
    if not isinstance(a.rates, dict) or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in a.rates.values()
    ):
        raise UserError("assumptions rates", f"is {a.rates!r}", "give a table of hardware key = positive $/hour")
    return a
