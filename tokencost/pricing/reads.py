"""Which assumptions a preset reads, so that an override of one it does not read is refused, not ignored.

`--preset on-demand-rental --set 'rates={h100-sxm=2.1}'` once priced the catalog's $3.99 an hour under the name
'on-demand-rental+set': that preset reads `rate = "rental_usd_per_hour"` (the catalog's rate), never its `rates`
table. Each rule below says why a value moves no figure of the assumptions as changed, and what would.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bench.errors import UserError

# Read only when the hardware is owned: its purchase, its power bill and its hosting (tokencost.pricing.hourly).
OWNED_ONLY = frozenset(
    {
        "life_years",
        "cost_of_capital",
        "include_server_share",
        "usd_per_kwh",
        "hosting_usd_per_kw_month",
        "idle_power_fraction",
        "interconnect_usd_per_gpu",
    }
)
# Read only when it is rented: the rate per unit-hour, and the fabric's.
RENTED_ONLY = frozenset({"rate", "rates", "usd_per_gpu_hour", "interconnect_usd_per_gpu_hour"})
# Read only beyond the gpu power boundary: the host's share of the watts.
HOST_SHARE = frozenset({"host_w_per_gpu", "host_w_by_hardware", "interconnect_w_per_gpu"})
# Tables keyed by the hardware catalog's keys: a key the catalog lacks prices nothing.
BY_HARDWARE = ("rates", "host_w_by_hardware")


class Assumptions(Protocol):
    """What the rules read of tokencost.pricing.assumptions.Assumptions (which loads its overrides through them)."""

    @property
    def ownership(self) -> str: ...
    @property
    def power_boundary(self) -> str: ...
    @property
    def rate(self) -> str: ...
    @property
    def usd_per_gpu_hour(self) -> float | None: ...


@dataclass(frozen=True)
class Override:
    """One assumption changed on the command line, and how: `--set rates` or a pricing flag such as `--years`."""

    key: str
    value: object
    option: str


def unread(a: Assumptions, key: str, who: str) -> tuple[str, str] | None:
    """Why the assumptions `a` (called `who` in the reason) read no `key`, and the fix; None where they read it."""
    rented = a.ownership == "rented"
    if key in OWNED_ONLY and rented:
        return (
            f"{who} rents its hardware, and the rate covers its purchase, power and hosting",
            "give an owned preset (e.g. --preset owned) to price them, or leave it out",
        )
    if key in RENTED_ONLY and not rented:
        return (
            f"{who} owns its hardware and pays no rate",
            "give --usd-per-gpu-hour to price a rental, or a rental preset (e.g. --preset on-demand-rental)",
        )
    if key == "pue" and rented and a.power_boundary != "facility":
        return (
            f"{who} rents (the rate covers the facility) and reports watts at the {a.power_boundary} boundary",
            "add --set power_boundary=facility to report watts at the meter, or leave it out",
        )
    if key in HOST_SHARE and a.power_boundary == "gpu":
        return (
            f"{who} counts the GPUs' watts only (power_boundary = 'gpu'), no host share",
            "add --set power_boundary=node, or leave it out",
        )
    if key == "rates" and a.usd_per_gpu_hour is not None:
        return "usd_per_gpu_hour (--usd-per-gpu-hour) replaces every rate", "give one of them"
    if key == "rates" and a.rate != "rates":
        return (
            f"{who} takes the catalog's {a.rate} (rate = '{a.rate}'), not its rates table",
            "give --usd-per-gpu-hour for the rate of every GPU, or add --set rate=rates",
        )
    return None


def check_read(a: Assumptions, overrides: list[Override], who: str, catalog_keys: Collection[str]) -> None:
    """Refuse an override that moves no figure: a key the changed preset (`who`) does not read, or a hardware
    table's key that is not in the catalog."""
    for change in overrides:
        if reason := unread(a, change.key, who):
            raise UserError(change.option, f"changes nothing: {reason[0]}", reason[1])
        table = change.value if change.key in BY_HARDWARE and isinstance(change.value, dict) else {}
        for hardware in table:
            if hardware not in catalog_keys:
                raise UserError(
                    f"{change.option}.{hardware}",
                    "is not in the hardware catalog, so it prices nothing",
                    f"use one of: {', '.join(sorted(catalog_keys))} (or add it with --hardware)",
                )
