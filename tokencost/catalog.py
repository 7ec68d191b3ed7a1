"""The hardware catalog (data/hardware.toml): unit prices and power, with sources."""

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from bench.errors import UserError


@dataclass(frozen=True)
class HardwareEntry:
    key: str
    display_name: str
    match: str
    tdp_w: float
    price_usd: float
    price_source: str


def load_catalog() -> list[HardwareEntry]:
    text = resources.files("tokencost").joinpath("data/hardware.toml").read_text()
    return [
        HardwareEntry(
            key=key,
            display_name=entry["display_name"],
            match=entry["match"],
            tdp_w=float(entry["tdp_w"]),
            price_usd=float(entry["price_usd"]),
            price_source=entry["price_source"],
        )
        for key, entry in tomllib.loads(text).items()
    ]


def find_hardware(name: str, catalog: list[HardwareEntry]) -> HardwareEntry:
    """The catalog entry for an accelerator name such as 'NVIDIA H100 80GB HBM3'."""
    for entry in catalog:
        if entry.key == name or re.search(entry.match, name, re.IGNORECASE):
            return entry
    known = ", ".join(e.key for e in catalog)
    raise UserError("hardware", f"{name!r} is not in the hardware catalog", f"add it to data/hardware.toml (known: {known})")
