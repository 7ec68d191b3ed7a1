"""Money math: the hourly cost of the hardware in use, and $ per million tokens.

$/M tokens = hourly cost / (tokens per second x 3600) x 1e6;
for a kind of token timed on its own (a prefill probe's seconds per token): hourly cost / 3600 x seconds x 1e6.

Power boundary (assumption `power_boundary`): which watts a figure covers. With G the metered watts of the
priced units (NVML GPU watts; in a CPU-only run, the CPU package's, measured or estimated) and
H = units x the host's share per unit (CPUs, memory, NICs, fans, switch share; `host_w_by_hardware`,
else `host_w_per_gpu`):
  gpu      reported W = G             billed IT W = G       (a floor: the host is left out)
  node     reported W = G + H         billed IT W = G + H
  facility reported W = (G + H) x PUE billed IT W = G + H   (the same bill as node)
Reported W give J/token (W / tok/s) and tok/s per MW; the electricity bill is always billed IT W x PUE x
$/kWh: what the meter of the building charges for the servers the preset pays for. node and facility differ
only in what is reported, never in $. The host's share is taken as constant, busy or idle.

Owned hardware, per hour of serving (utilisation u = serving hours / all hours):
  capital = units x (price [+ server share]) x CRF(cost of capital, life) / (8760 u)
  energy  = (billed busy W + billed idle W x (1 - u) / u) / 1000 x PUE x $/kWh
            billed idle W = the GPUs' idle W (+ H beyond the gpu boundary)
  hosting = provisioned kW x $/kW-month x 12 / (8760 u)
            provisioned kW = units x TDP (+ H beyond the gpu boundary): rent per kW of IT load, the
            colocation convention (cooling is inside its price), so facility is priced as node
Rented hardware: rental = units x $/unit-hour / u (the provider's rate covers energy and hosting), the rate being
usd_per_gpu_hour where given, else the catalog's (rate) or the preset's table (rates);
the boundary then moves only the reported J/token and tok/s per MW.

Units are every GPU the engine used, on every node (hardware.accelerator_count): the server share and the host's
watts per GPU then cover each node's share. A multi-node engine (hardware.nodes lists more than one node) also
pays for the fabric between its nodes (NICs' switch ports, switches, optics and cables), a stated assumption
that one machine's records never carry:
  owned:  interconnect = units x interconnect_usd_per_gpu x CRF(cost of capital, life) / (8760 u), and
          H gains units x interconnect_w_per_gpu (billed as the host's share is: energy, hosting, boundary W)
  rented: interconnect = units x interconnect_usd_per_gpu_hour / u (0 by default: the rate includes the fabric)
"""

import math
from dataclasses import dataclass

from bench.errors import UserError
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry

HOURS_PER_YEAR = 8760
COMPONENTS = ("capital", "energy", "hosting", "rental", "interconnect")


def capital_recovery_factor(rate: float, years: float) -> float:
    """Share of the price to pay each year to repay it over `years` at interest `rate`."""
    if rate == 0:
        return 1 / years
    return rate / (1 - math.pow(1 + rate, -years))


@dataclass(frozen=True)
class HourlyCost:
    """Cost of one hour of serving, by component, in USD."""

    capital: float = 0.0
    energy: float = 0.0
    hosting: float = 0.0
    rental: float = 0.0
    interconnect: float = 0.0  # the fabric between a multi-node engine's nodes (0 on one machine)

    @property
    def total(self) -> float:
        return self.capital + self.energy + self.hosting + self.rental + self.interconnect

    def shares(self) -> dict[str, float]:
        return {c: getattr(self, c) / self.total if self.total else float("nan") for c in COMPONENTS}


def amortised_per_hour(usd: float, a: Assumptions) -> float:
    """A purchase of `usd` per serving hour: repaid over the life at the cost of capital, over the hours serving."""
    return usd * capital_recovery_factor(a.cost_of_capital, a.life_years) / (HOURS_PER_YEAR * a.utilization)


def fabric_units(units: float, nodes: int) -> float:
    """The units whose share of an interconnect is priced: all of them on a multi-node engine, none on one machine."""
    return units if nodes > 1 else 0.0


def unit_price(hardware: HardwareEntry, a: Assumptions) -> float:
    price = hardware.require(
        "price_usd", "use a rental preset (e.g. --preset on-demand-rental) or give price_usd in --hardware"
    )
    if a.include_server_share:
        price += hardware.get("server_share_usd") or 0.0
    return price


def rental_rate(hardware: HardwareEntry, a: Assumptions) -> float:
    if a.usd_per_gpu_hour is not None:  # the user's own price, for every unit
        return a.usd_per_gpu_hour
    if a.rate == "rates":
        if hardware.key not in a.rates:
            raise UserError(
                f"preset {a.name} rates",
                f"has no rate for {hardware.key}",
                f"use hardware it covers ({', '.join(a.rates)}) or --set 'rates={{{hardware.key}=2.0}}'",
            )
        return a.rates[hardware.key]
    return hardware.require(a.rate, f"use another preset or give {a.rate} in --hardware")


def host_w_per_unit(hardware: HardwareEntry, a: Assumptions) -> float:
    """The host's share per priced unit (a GPU, or a vCPU in a CPU-only run), in watts."""
    return a.host_w_by_hardware.get(hardware.key, a.host_w_per_gpu)


@dataclass(frozen=True)
class BoundaryPower:
    """Watts of `units` priced units at the preset's power boundary (see the module's docstring)."""

    boundary: str
    device_w: float  # G: the metered (or TDP-estimated) watts of the units
    host_w: float  # H: the units' share of their host, counted beyond the gpu boundary (0 at gpu)
    pue: float

    @property
    def billed_w(self) -> float:
        """IT watts the electricity bill covers (before PUE)."""
        return self.device_w + self.host_w

    @property
    def watts(self) -> float:
        """Watts reported at the boundary: J/token and tok/s per MW use these."""
        return self.billed_w * (self.pue if self.boundary == "facility" else 1.0)


def boundary_power(
    units: float, hardware: HardwareEntry, device_w: float, a: Assumptions, nodes: int = 1
) -> BoundaryPower:
    """Over `nodes` machines, the host's share includes the interconnect's watts (interconnect_w_per_gpu)."""
    if a.power_boundary == "gpu":
        return BoundaryPower(a.power_boundary, device_w, 0.0, a.pue)
    host = units * host_w_per_unit(hardware, a) + fabric_units(units, nodes) * a.interconnect_w_per_gpu
    return BoundaryPower(a.power_boundary, device_w, host, a.pue)


def idle_device_w(units: float, hardware: HardwareEntry, a: Assumptions) -> float:
    """What idle units draw where not measured: the catalog's idle watts, else a share of TDP."""
    return units * (hardware.get("idle_w") or a.idle_power_fraction * hardware.tdp_w)


def hourly_cost(
    units: float,
    hardware: HardwareEntry,
    busy_power_w: float,
    a: Assumptions,
    idle_power_w: float | None = None,
    nodes: int = 1,
) -> HourlyCost:
    """Cost of one serving hour of `units` accelerators, over `nodes` machines, whose metered watts are
    `busy_power_w` in all (`idle_power_w` when idle); the host's share is added beyond the gpu boundary, and
    the interconnect's cost on more than one node."""
    u = a.utilization
    fabric = fabric_units(units, nodes)
    if a.ownership == "rented":
        return HourlyCost(
            rental=units * rental_rate(hardware, a) / u, interconnect=fabric * a.interconnect_usd_per_gpu_hour / u
        )
    capital = amortised_per_hour(units * unit_price(hardware, a), a)
    if idle_power_w is None:
        idle_power_w = idle_device_w(units, hardware, a)
    busy = boundary_power(units, hardware, busy_power_w, a, nodes)
    idle = boundary_power(units, hardware, idle_power_w, a, nodes)
    energy = (busy.billed_w + idle.billed_w * (1 - u) / u) / 1000 * a.pue * a.usd_per_kwh
    provisioned_kw = boundary_power(units, hardware, units * hardware.tdp_w, a, nodes).billed_w / 1000
    hosting = provisioned_kw * a.hosting_usd_per_kw_month * 12 / (HOURS_PER_YEAR * u)
    return HourlyCost(
        capital=capital,
        energy=energy,
        hosting=hosting,
        interconnect=amortised_per_hour(fabric * a.interconnect_usd_per_gpu, a),
    )


def mtok_per_hour(tokens_per_s: float) -> float:
    """Millions of tokens an hour at `tokens_per_s`."""
    return tokens_per_s * 3600 / 1e6


def usd_per_mtok(hourly_usd: float, tokens_per_s: float) -> float:
    if tokens_per_s <= 0:
        raise UserError("tokens per second", f"is {tokens_per_s}", "give a positive throughput")
    return hourly_usd / mtok_per_hour(tokens_per_s)


def usd_per_mtok_of_time(hourly_usd: float, seconds_per_token: float) -> float:
    """$/M tokens of a kind of token that takes `seconds_per_token` of the hardware's time each: the hour's cost
    per second times those seconds, a million times (usd_per_mtok at 1 / seconds_per_token tok/s)."""
    return hourly_usd / 3600 * seconds_per_token * 1e6


@dataclass(frozen=True)
class TokenPrices:
    """$ per million tokens at one point, with input and output split by `input_time_share`."""

    total: float
    input: float
    output: float


def token_prices(
    hourly_usd: float, input_tok_s: float, output_tok_s: float, input_time_share: float | None
) -> TokenPrices:
    """Total, input and output $/M. Without a time share, each type is charged the whole hour
    (InferenceX's convention), so input and output prices do not add up to the spend."""
    total = usd_per_mtok(hourly_usd, input_tok_s + output_tok_s)
    if input_time_share is None:
        # No input tokens (results that count output tokens only, such as MLPerf's): no price per input token.
        per_input = usd_per_mtok(hourly_usd, input_tok_s) if input_tok_s > 0 else math.nan
        return TokenPrices(total, per_input, usd_per_mtok(hourly_usd, output_tok_s))
    return TokenPrices(
        total,
        usd_per_mtok(hourly_usd * input_time_share, input_tok_s) if input_time_share > 0 else 0.0,
        usd_per_mtok(hourly_usd * (1 - input_time_share), output_tok_s) if input_time_share < 1 else 0.0,
    )
