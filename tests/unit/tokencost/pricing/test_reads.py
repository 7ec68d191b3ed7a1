"""An override the chosen preset does not read is refused in one line; one it reads is applied and named."""

import pytest

from bench.errors import UserError
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost


def test_the_rates_table_of_a_preset_that_reads_the_catalogs_rate_is_refused():
    """The issue's case: it exited 0 and priced the catalog's $3.99 an hour under 'on-demand-rental+set'."""
    with pytest.raises(UserError) as refused:
        load_assumptions("on-demand-rental", settings=["rates={h100-sxm=2.1}"])
    assert str(refused.value).startswith("--set rates: changes nothing: preset 'on-demand-rental' takes the catalog's")
    assert "--usd-per-gpu-hour" in refused.value.fix and "--set rate=rates" in refused.value.fix


@pytest.mark.parametrize(
    "preset, settings, flags, field",
    [
        ("on-demand-rental", [], {"--usd-per-kwh": 0.1}, "--usd-per-kwh"),  # the rate covers the power
        ("reserved-rental", [], {"--years": 5}, "--years"),  # nothing bought, nothing to pay off
        ("on-demand-rental", ["cost_of_capital=0.1"], {}, "--set cost_of_capital"),
        ("on-demand-rental", ["pue=1.2"], {}, "--set pue"),  # rented, watts reported at the gpu boundary
        ("owned", ["rate=rates"], {}, "--set rate"),  # owned: no rate at all
        ("owned", ["interconnect_usd_per_gpu_hour=1"], {}, "--set interconnect_usd_per_gpu_hour"),
        ("owned", ["host_w_per_gpu=100"], {}, "--set host_w_per_gpu"),  # the gpu boundary counts no host
        ("owned", ["interconnect_w_per_gpu=80"], {}, "--set interconnect_w_per_gpu"),
        ("inferencex-rental", ["rates={h100-sxm=3}"], {"--usd-per-gpu-hour": 2.0}, "--set rates"),  # replaced
        ("owned", ["usd_per_kwh=0.1"], {"--usd-per-gpu-hour": 2.0}, "--set usd_per_kwh"),  # now rented
        ("owned", ["ownership=rented", "life_years=6"], {}, "--set life_years"),
    ],
)
def test_an_override_the_preset_does_not_read_is_named_with_its_fix(preset, settings, flags, field):
    with pytest.raises(UserError, match=f"^{field}: changes nothing: ") as refused:
        load_assumptions(preset, settings=settings, flags=flags)
    assert "\n" not in str(refused.value) and refused.value.fix


@pytest.mark.parametrize(
    "settings, field",
    [
        (["rate=rates", "rates={h100sxm=2.0}"], "--set rates.h100sxm"),
        (["power_boundary=node", "host_w_by_hardware={h100=500}"], "--set host_w_by_hardware.h100"),
    ],
)
def test_a_hardware_table_key_the_catalog_lacks_is_refused(settings, field):
    with pytest.raises(UserError, match=f"^{field}: is not in the hardware catalog.*h100-sxm.*--hardware"):
        load_assumptions("on-demand-rental", settings=settings)


def test_a_hardware_table_key_of_the_users_own_catalog_is_read():
    a = load_assumptions("on-demand-rental", settings=["rate=rates", "rates={my-gpu=1.5}"], catalog_keys=["my-gpu"])
    assert a.rates == {"my-gpu": 1.5}


@pytest.mark.parametrize(
    "preset, settings, flags",
    [
        ("owned", ["usd_per_kwh=0.1"], {"--years": 5, "--utilization": 0.7}),
        ("on-demand-rental", ["rate=rates", "rates={h100-sxm=2.1}"], {"--utilization": 0.5}),
        ("owned", ["power_boundary=node", "host_w_per_gpu=500"], {}),
        ("reserved-rental", ["power_boundary=facility", "pue=1.3"], {}),
        ("neocloud-owned", ["ownership=rented"], {"--usd-per-gpu-hour": 2.0}),
        ("owned", ["ownership=rented", "rate=reserved_usd_per_hour"], {}),
    ],
)
def test_an_override_the_preset_reads_is_applied_and_named(preset, settings, flags):
    a = load_assumptions(preset, settings=settings, flags=flags)
    changed = [s.split("=")[0] for s in settings] + [
        {"--years": "life_years"}.get(f, f[2:].replace("-", "_")) for f in flags
    ]
    assert a.name.startswith(f"{preset}+") and all(f"+{key}=" in a.name for key in changed), a.name
    assert all(a.sources[key].startswith("set on the command line") for key in changed)


def test_the_name_says_each_flag_and_its_value_and_the_sources_say_the_flag():
    a = load_assumptions("owned", flags={"--usd-per-kwh": 0.12, "--years": 5.0})
    assert a.name == "owned+usd_per_kwh=0.12+life_years=5"
    assert (a.usd_per_kwh, a.life_years) == (0.12, 5.0)
    assert a.sources["life_years"] == "set on the command line: --years 5"


def test_a_price_per_gpu_hour_rents_an_owned_preset_and_prices_every_gpu_at_it():
    a = load_assumptions("owned", flags={"--usd-per-gpu-hour": 2.5})
    assert (a.ownership, a.usd_per_gpu_hour, a.name) == ("rented", 2.5, "owned+usd_per_gpu_hour=2.5")
    assert "usd_per_gpu_hour" in a.sources["ownership"]
    catalog = load_catalog()
    for key in ("h100-sxm", "b200", "l4"):  # whatever the catalog's or a table's rate for it
        assert hourly_cost(4, find_hardware(key, catalog), 2800.0, a).total == 4 * 2.5  # utilization 1


def test_a_preset_without_a_price_per_gpu_hour_keeps_its_hash():
    # usd_per_gpu_hour is None in every preset: left out of the hash, as before it existed
    assert load_assumptions("owned").hash == "ee8b3b6a67b5"
    assert load_assumptions("owned", flags={"--usd-per-gpu-hour": 2.0}).hash != load_assumptions("owned").hash


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--usd-per-gpu-hour", 1e15, "is 1e+15; input should be less than or equal to 10000"),
        ("--usd-per-gpu-hour", 0.0, "is 0; input should be greater than 0"),
        ("--usd-per-gpu-hour", float("inf"), "is inf; input should be a finite number"),
        ("--usd-per-kwh", -0.1, "is -0.1; input should be greater than or equal to 0"),
        ("--usd-per-kwh", float("nan"), "is nan; input should be a finite number"),
        ("--utilization", 0.0, "is 0; input should be greater than 0"),
        ("--utilization", 1.01, "is 1.01; input should be less than or equal to 1"),
        ("--years", 0.0, "is 0; input should be greater than 0"),
        ("--years", -4.0, "is -4; input should be greater than 0"),
        ("--years", 51.0, "is 51; input should be less than or equal to 50"),
    ],
)
def test_a_flag_outside_its_assumptions_range_is_refused_naming_the_flag(flag, value, message):
    with pytest.raises(UserError) as refused:
        load_assumptions(flags={flag: value})
    assert str(refused.value) == f"{flag}: {message}"


def test_an_assumption_given_by_a_flag_and_by_set_is_refused():
    with pytest.raises(UserError, match=r"^--years: sets life_years, which --set life_years sets too"):
        load_assumptions(settings=["life_years=6"], flags={"--years": 5.0})
