"""Pricing math against values computed by hand."""

import pandas as pd
import pytest

from tokencost.assumptions import load_assumptions
from tokencost.catalog import find_hardware, load_catalog
from tokencost.pricing import capital_recovery_factor, hourly_cost, price_points, usd_per_mtok


@pytest.fixture
def defaults():
    return load_assumptions()


def test_h100_hour_by_hand(defaults):
    h100 = find_hardware("NVIDIA H100 80GB HBM3", load_catalog())
    cost = hourly_cost(1, h100, power_w=700, a=defaults)
    # 33,750 / (4 years * 8760 h) = 0.963185 $/h; 0.7 kW * 1.58 * 0.08 $/kWh = 0.08848 $/h
    assert cost.capital_usd == pytest.approx(0.963185, rel=1e-5)
    assert cost.energy_usd == pytest.approx(0.08848, rel=1e-9)
    assert cost.hosting_usd == 0
    # at 1,000 tok/s: 1.051665 $/h / 3.6 M tokens/h = 0.292129 $/M tokens
    assert usd_per_mtok(cost.total_usd, 1000) == pytest.approx(0.292129, rel=1e-5)


def test_utilization_and_units_scale_capital(defaults):
    h100 = find_hardware("h100-sxm", load_catalog())
    half = hourly_cost(2, h100, 0, a=defaults.__class__(**{**defaults.__dict__, "utilization": 0.5}))
    assert half.capital_usd == pytest.approx(4 * 0.963185, rel=1e-5)


def test_capital_recovery_factor():
    assert capital_recovery_factor(0, 4) == 0.25
    # 10 % over 3 years: 0.1 / (1 - 1.1**-3) = 0.402115
    assert capital_recovery_factor(0.10, 3) == pytest.approx(0.402115, rel=1e-5)


def test_nvml_names_map_to_catalog_entries():
    catalog = load_catalog()
    expected = {
        "NVIDIA H100 80GB HBM3": "h100-sxm",
        "NVIDIA H100 PCIe": "h100-pcie",
        "NVIDIA H100 NVL": "h100-nvl",
        "NVIDIA H200": "h200",
        "NVIDIA A100-SXM4-80GB": "a100-80gb",
        "NVIDIA A100-SXM4-40GB": "a100-40gb",
        "NVIDIA L40S": "l40s",
        "CPU (Intel(R) Xeon(R) Processor)": "cpu-vcpu",
        "CPU (AMD Ryzen 9 7950X 16-Core Processor)": "cpu-vcpu",
    }
    assert {name: find_hardware(name, catalog).key for name in expected} == expected


def test_unknown_hardware_is_a_user_error():
    from bench.errors import UserError

    with pytest.raises(UserError, match="^hardware: 'Acme X1' is not in the hardware catalog"):
        find_hardware("Acme X1", load_catalog())


def test_missing_power_falls_back_to_tdp_and_says_so(defaults):
    points = pd.DataFrame([{
        "accelerator": "NVIDIA H100 80GB HBM3", "accelerator_count": 1, "avg_power_w": float("nan"),
        "energy_method": "nvml-counter", "output_tok_s": 1000.0, "total_tok_s": 2000.0,
    }])
    priced = price_points(points, load_catalog(), defaults)
    assert priced.loc[0, "power_basis"] == "estimated-from-tdp"
    assert priced.loc[0, "output_per_mtok_usd"] == pytest.approx(0.292129, rel=1e-5)
    assert priced.loc[0, "total_per_mtok_usd"] == pytest.approx(0.292129 / 2, rel=1e-5)
    assert priced.loc[0, "capital_share"] == pytest.approx(0.963185 / 1.051665, rel=1e-5)


def test_every_catalog_price_has_a_source():
    for entry in load_catalog():
        assert entry.price_usd > 0 and entry.tdp_w > 0
        assert len(entry.price_source) > 10
