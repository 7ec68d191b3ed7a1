import tomllib
from importlib import resources

import pytest

from bench.errors import UserError
from tokencost.pricing.api_prices import load_api_prices
from tokencost.pricing.catalog import find_hardware, load_catalog

REQUIRED = {
    "a100-40gb-sxm",
    "a100-80gb-sxm",
    "a100-40gb-pcie",
    "a100-80gb-pcie",
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "h200",
    "b200",
    "l4",
    "l40s",
    "a10g",
    "rtx-4090",
    "cpu-vcpu",
    "h200-nvl",
    "gh200",
    "gb200",
    "b300",
    "mi300x",
    "mi325x",
    "mi355x",
}


def test_every_required_accelerator_is_in_the_catalog():
    assert REQUIRED <= {e.key for e in load_catalog()}


def test_every_figure_has_a_source_and_a_date():
    raw = tomllib.loads(resources.files("tokencost").joinpath("data/hardware.toml").read_text())
    for key, table in raw.items():
        for name, figure in table.items():
            if name in ("display_name", "match", "aliases"):
                continue
            assert isinstance(figure, dict), f"{key}.{name} is a bare number"
            assert figure["source"].strip() and figure["date"].strip(), f"{key}.{name}"


def test_every_gpu_has_specs_and_a_purchase_or_rental_price():
    for entry in load_catalog():
        if entry.key == "cpu-vcpu":
            continue
        for name in ("memory_gb", "bandwidth_tbs", "tdp_w", "bf16_tflops"):
            assert entry.get(name), f"{entry.key} lacks {name}"
        assert entry.get("price_usd") or entry.get("rental_usd_per_hour") or entry.get("reserved_usd_per_hour"), (
            entry.key
        )


# Detected (NVML) names: tests/unit/tokencost/pricing/test_gpu_names.py


@pytest.mark.parametrize(
    "other_part, not_as",
    [
        ("NVIDIA H200 NVL", "h200"),
        ("NVIDIA GH200 480GB", "h200"),
        ("NVIDIA GB200", "b200"),
        ("NVIDIA GH200 144G HBM3e", "h200"),
    ],
)
def test_parts_named_like_a_catalog_gpu_are_not_priced_as_it(other_part, not_as):
    try:
        key = find_hardware(other_part, load_catalog()).key
    except UserError as e:  # a part the catalog lacks (the 144 GB GH200) is an error, never another part's figures
        assert str(e).startswith(f"hardware: '{other_part}' is not in the hardware catalog")
    else:
        assert key != not_as and key.replace("-", "") in other_part.lower().replace(" ", "").replace("-", "")


def test_unknown_gpu_is_a_clear_error_unless_the_user_supplies_figures(tmp_path):
    with pytest.raises(UserError, match=r"^hardware: 'NVIDIA RTX PRO 6000' is not in the hardware catalog; supply"):
        find_hardware("NVIDIA RTX PRO 6000", load_catalog())
    extra = tmp_path / "mine.toml"
    extra.write_text('[rtx-pro-6000]\nmatch = "RTX PRO 6000"\ntdp_w = 600\nprice_usd = 8500\n')
    entry = find_hardware("NVIDIA RTX PRO 6000", load_catalog(extra))
    assert entry.get("price_usd") == 8500 and "user-supplied" in entry.figures["price_usd"].source


@pytest.mark.parametrize(
    "text, message",
    [
        ("[x]\ntdp_w = -3\n", r"x.tdp_w: is -3.0|x.tdp_w: is -3"),
        ("[x]\nwatts = 3\n", r"x.watts: is not a setting; use one of: aliases, "),
        ("[x]\nmatch = '('\n", r"x.match: is '\('; give a regular expression"),
        ("[x\n", r"is not valid TOML"),
    ],
)
def test_bad_hardware_files_name_the_field(tmp_path, text, message):
    extra = tmp_path / "bad.toml"
    extra.write_text(text)
    with pytest.raises(UserError, match=message):
        load_catalog(extra)


def test_api_prices_are_dated_and_sourced_and_include_the_required_ones():
    prices = load_api_prices()
    assert (prices["gpt-4-launch"].input_per_mtok_usd, prices["gpt-4-launch"].output_per_mtok_usd) == (30, 60)
    for key in (
        "gpt-4o",
        "gpt-4o-mini",
        "gemini-2.0-flash",
        "deepseek-v3",
        "llama-3.1-8b-together",
        "llama-3.1-70b-together",
        "qwen3-30b-a3b-openrouter",
    ):
        assert key in prices
    for price in prices.values():
        assert price.date and price.source and price.input_per_mtok_usd > 0 and price.output_per_mtok_usd > 0
