"""--usd-per-gpu-hour, --usd-per-kwh, --utilization and --years on every pricing command: each moves the price by
what its formula says (computed here from the catalog's figures, not by the pricing code), the output names it,
and one the preset does not read is refused.

The run priced: 2 H100s metered at 900 W in all, 1,000 output and 1,000 input tokens a second, no idle watts
measured (so the idle bill uses the catalog's idle watts).
"""

import pandas as pd
import pytest

from tests.support.cli import tokencost
from tests.support.records_factory import point_record, write_run
from tokencost.pricing.catalog import find_hardware, load_catalog

H100 = find_hardware("h100-sxm", load_catalog())
UNITS, WATTS, TOTAL_TOK_S = 2, 900.0, 2000.0
MTOK_AN_HOUR = TOTAL_TOK_S * 3600 / 1e6  # the run's millions of input+output tokens an hour
OWNED_PUE = 1.58  # the owned preset's (tokencost/data/presets.toml)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    record = point_record(
        accelerator="NVIDIA H100 80GB HBM3", units=UNITS, power_w=WATTS, output_tok_s=1000.0, method="nvml-counter"
    )
    return write_run(tmp_path_factory.mktemp("h100") / "run", record)


def priced(run, tmp_path, *options) -> pd.Series:
    """The run's one priced row, as `price --csv` writes it under these pricing options."""
    csv = tmp_path / f"costs-{len(list(tmp_path.iterdir()))}.csv"
    result = tokencost("price", run, "--csv", csv, *options)
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(csv).iloc[0]
    assert f"Preset '{row['assumptions']}'" in result.stdout  # the overrides are named where the preset is
    return row


def one_line_error(result, field: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"tokencost: error: {field}"), line
    return line


def test_the_issues_silent_override_is_refused_naming_the_flag_that_works():
    result = tokencost(
        "quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--preset", "on-demand-rental", "--set", "rates={h100-sxm=2.1}"
    )
    line = one_line_error(result, "--set rates: changes nothing")
    assert "rental_usd_per_hour" in line and "--usd-per-gpu-hour" in line and result.stdout == ""


def test_usd_per_gpu_hour_is_the_rental_rate_and_doubling_it_doubles_the_price(run, tmp_path):
    rows = [priced(run, tmp_path, "--preset", "on-demand-rental", "--usd-per-gpu-hour", rate) for rate in ("2", "4")]
    for rate, row in zip((2.0, 4.0), rows):
        assert row["hourly_usd"] == pytest.approx(UNITS * rate, rel=1e-12)  # utilization 1
        assert row["total_per_mtok_usd"] == pytest.approx(UNITS * rate / MTOK_AN_HOUR, rel=1e-12)
        assert row["assumptions"] == f"on-demand-rental+usd_per_gpu_hour={rate:g}"
        assert row["token_basis"] == "input+output"
    assert rows[1]["total_per_mtok_usd"] == pytest.approx(2 * rows[0]["total_per_mtok_usd"], rel=1e-12)


def test_usd_per_gpu_hour_on_an_owned_preset_rents_at_that_price(run, tmp_path):
    row = priced(run, tmp_path, "--usd-per-gpu-hour", "3")
    assert (row["hourly_usd"], row["rental_usd_per_h"], row["capital_usd_per_h"]) == (UNITS * 3.0, UNITS * 3.0, 0)
    assert "$ estimated from 'owned+usd_per_gpu_hour=3'" in row["label"]


def test_usd_per_kwh_moves_the_energy_bill_by_the_watts_billed(run, tmp_path):
    cheap, dear = priced(run, tmp_path), priced(run, tmp_path, "--usd-per-kwh", "0.16")
    extra_per_hour = WATTS / 1000 * OWNED_PUE * (0.16 - 0.08)  # utilization 1: no idle hours
    assert dear["energy_usd_per_h"] - cheap["energy_usd_per_h"] == pytest.approx(extra_per_hour, rel=1e-9)
    assert dear["total_per_mtok_usd"] - cheap["total_per_mtok_usd"] == pytest.approx(
        extra_per_hour / MTOK_AN_HOUR, rel=1e-9
    )
    assert dear["capital_usd_per_h"] == cheap["capital_usd_per_h"]


def test_years_spreads_the_purchase_over_the_life(run, tmp_path):
    purchase = UNITS * (H100.get("price_usd") + H100.get("server_share_usd"))  # owned: no cost of capital
    for years in (2.0, 8.0):
        row = priced(run, tmp_path, "--years", f"{years:g}")
        assert row["capital_usd_per_h"] == pytest.approx(purchase / (years * 8760), rel=1e-12)


def test_utilization_charges_the_idle_hours_to_the_busy_ones(run, tmp_path):
    busy = priced(run, tmp_path)
    half = priced(run, tmp_path, "--utilization", "0.5")
    assert half["capital_usd_per_h"] == pytest.approx(2 * busy["capital_usd_per_h"], rel=1e-12)
    idle_w = UNITS * H100.get("idle_w")  # the catalog's idle watts: the record measured none
    assert half["energy_usd_per_h"] == pytest.approx((WATTS + idle_w) / 1000 * OWNED_PUE * 0.08, rel=1e-12)
    rented = [priced(run, tmp_path, "--preset", "on-demand-rental", "--utilization", u) for u in ("1", "0.25")]
    assert rented[1]["hourly_usd"] == pytest.approx(4 * rented[0]["hourly_usd"], rel=1e-12)


def test_quote_names_the_overrides_and_prices_the_given_rate():
    result = tokencost(
        "quote", "--gpu", "h100-sxm", "--output-tok-s", "1000", "--preset", "reserved-rental", "--usd-per-gpu-hour", "2"
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "preset 'reserved-rental+usd_per_gpu_hour=2' (rented," in text
    assert "hourly cost per serving hour: $2.5 = rental $2.5 (100%)" in text  # 2 / utilization 0.8
    assert f"$/M output tokens: {2.5 / 3.6:.4g} (basis: output tokens;" in text


def test_project_prices_the_projection_at_the_given_rate(tmp_path):
    tables = []
    for rate in ("2", "4"):
        csv = tmp_path / f"{rate}.csv"
        result = tokencost(
            "project", "--model", "qwen3-8b", "--gpu", "h100-sxm", "--batch-sizes", "1,8", "--csv", csv,
            "--preset", "on-demand-rental", "--usd-per-gpu-hour", rate,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"preset 'on-demand-rental+usd_per_gpu_hour={rate}'" in result.stdout
        assert "projected tok/s" in result.stdout and "$/M in+out" in result.stdout
        tables.append(pd.read_csv(csv))
    cost = [t["projected_total_per_mtok_usd"] for t in tables]
    assert (cost[1] / cost[0]).tolist() == pytest.approx([2.0, 2.0], rel=1e-12)
    assert set(tables[0]["token_basis"]) == {"input+output"}


@pytest.mark.parametrize("command", ["compare", "claims"])
def test_compare_and_claims_name_the_overrides(run, command):
    result = tokencost(command, run, *([run] if command == "compare" else []), "--utilization", "0.5")
    assert result.returncode == 0, result.stderr
    assert "preset 'owned+utilization=0.5'" in result.stdout.replace("Preset", "preset")


# Every pricing command, with what it needs besides the pricing options ({run}: a run directory, {out}: a folder).
COMMANDS = [
    ["quote", "--gpu", "h100-sxm", "--tok-s", "1000"],
    ["price", "{run}"],
    ["report", "{run}", "-o", "{out}"],
    ["project", "--model", "qwen3-8b", "--gpu", "h100-sxm"],
    ["compare", "{run}", "{run}"],
    ["claims", "{run}"],
    ["index", "{out}"],
    ["run", "--dry-run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize(
    "flag, preset",
    [
        ("--usd-per-kwh", "on-demand-rental"),  # the rate covers the power
        ("--years", "inferencex-rental"),  # nothing bought
    ],
)
def test_every_pricing_command_refuses_a_flag_its_preset_does_not_read(run, tmp_path, command, flag, preset):
    argv = [str(a).replace("{run}", str(run)).replace("{out}", str(tmp_path)) for a in command]
    result = tokencost(*argv, "--preset", preset, flag, "0.5")
    one_line_error(result, f"{flag}: changes nothing: preset '{preset}' rents its hardware")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
