"""Economic assumptions: shipped defaults (data/assumptions.toml) plus user overrides."""

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path

from bench.errors import UserError


@dataclass(frozen=True)
class Assumptions:
    name: str
    life_years: float
    utilization: float
    cost_of_capital: float
    usd_per_kwh: float
    pue: float
    hosting_usd_per_unit_hour: float
    sources: dict

    def to_record(self) -> dict:
        values = asdict(self)
        values["hash"] = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
        return values


# field -> (lowest allowed, highest allowed, lower bound inclusive)
LIMITS = {
    "life_years": (0, 50, False),
    "utilization": (0, 1, False),
    "cost_of_capital": (0, 1, True),
    "usd_per_kwh": (0, 10, True),
    "pue": (1, 5, True),
    "hosting_usd_per_unit_hour": (0, 1000, True),
}


def load_assumptions(override: Path | None = None) -> Assumptions:
    values = tomllib.loads(resources.files("tokencost").joinpath("data/assumptions.toml").read_text())
    if override is not None:
        values |= _read_override(Path(override))
    return _validated(values)


def _read_override(path: Path) -> dict:
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError("--assumptions", f"{path} does not exist", "give the path of a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError("--assumptions", f"{path} is not valid TOML ({e})", "fix the TOML") from None
    known = {f.name for f in fields(Assumptions)} - {"sources"}
    for key in values:
        if key not in known and not key.endswith("_source"):
            raise UserError(f"assumptions {key}", "is not a known assumption", f"use one of: {', '.join(sorted(known))}")
    return values


def _validated(values: dict) -> Assumptions:
    numbers = {}
    for key, (low, high, low_inclusive) in LIMITS.items():
        value = values.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"assumptions {key}", f"is {value!r}", "give a number")
        if not ((value >= low if low_inclusive else value > low) and value <= high):
            bracket = "[" if low_inclusive else "("
            raise UserError(f"assumptions {key}", f"is {value}", f"give a value in {bracket}{low}, {high}]")
        numbers[key] = float(value)
    sources = {k: v for k, v in values.items() if k.endswith("_source")}
    return Assumptions(name=str(values.get("name", "custom")), sources=sources, **numbers)
