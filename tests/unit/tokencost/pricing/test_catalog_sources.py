"""The shipped hardware catalog: every figure sourced and dated, server shares by one rule, rentals as ranges."""

import tomllib
from importlib import resources

import pytest

from bench.errors import UserError
from tokencost.pricing.api_prices import parse_date
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import NUMERIC_FIELDS, find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost

RAW = tomllib.loads(resources.files("tokencost").joinpath("data/hardware.toml").read_text())
CATALOG = {entry.key: entry for entry in load_catalog()}
GPUS = [key for key in CATALOG if key != "cpu-vcpu"]
RENTAL_RANGE = ("rental_min_usd_per_hour", "rental_usd_per_hour", "rental_max_usd_per_hour")


def owned(key: str) -> float:
    """What one unit costs to own: the part plus its share of the server."""
    return CATALOG[key].get("price_usd") + CATALOG[key].get("server_share_usd")


@pytest.mark.parametrize("key", list(RAW))
def test_every_shipped_figure_has_a_source_and_a_date_that_parses(key):
    for name, figure in RAW[key].items():
        if name in ("display_name", "match", "aliases"):
            continue
        assert name in NUMERIC_FIELDS, f"{key}.{name}"
        assert isinstance(figure, dict) and set(figure) == {"value", "source", "date"}, f"{key}.{name}"
        assert figure["source"].strip(), f"{key}.{name} has no source"
        parse_date(figure["date"])  # YYYY, YYYY-MM or YYYY-MM-DD


@pytest.mark.parametrize("text", ["2023-24", "2025-26", "n.d.", "", "2025/09", "2025-13", "25-09-05"])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_every_gpu_with_a_price_has_a_server_share_by_the_stated_rule():
    header = resources.files("tokencost").joinpath("data/hardware.toml").read_text().split("\n[", 1)[0]
    assert "server_share_usd is the rest of the" in header and "(a) parts sold in an NVIDIA 8-GPU" in header
    for key in GPUS:
        if CATALOG[key].get("price_usd") is None:
            continue
        share = CATALOG[key].figures.get("server_share_usd")
        assert share is not None, f"{key} has a price but no server share"
        assert share.source.startswith(("rule (a)", "rule (b)", "rule (c)")), f"{key}: {share.source}"
    assert CATALOG["cpu-vcpu"].get("server_share_usd") is None  # not modelled, as the header says


@pytest.mark.parametrize(
    "key, server_price, gpus",
    [
        ("a100-40gb-sxm", 199_000, 8),  # DGX A100 320GB
        ("a100-80gb-sxm", 300_000, 8),  # DGX A100 640GB: the same source family as the 40 GB part
        ("h100-sxm", 270_000, 8),  # DGX H100
        ("b200", 500_000, 8),  # DGX/HGX B200
        ("gb200", 5_000_000, 72),  # GB200 NVL72 rack
    ],
)
def test_rule_a_price_plus_share_is_the_servers_cost_per_gpu(key, server_price, gpus):
    assert owned(key) == pytest.approx(server_price / gpus, abs=1)
    assert CATALOG[key].figures["server_share_usd"].source.startswith("rule (a)")


@pytest.mark.parametrize("key, sibling", [("h200", "h100-sxm"), ("b300", "b200")])
def test_rule_b_takes_the_share_of_the_part_on_the_same_board(key, sibling):
    assert CATALOG[key].get("server_share_usd") == CATALOG[sibling].get("server_share_usd")


@pytest.mark.parametrize(
    "key, share",
    [
        ("a100-80gb-pcie", 9875),
        ("a100-40gb-pcie", 9875),
        ("h100-pcie", 6250),
        ("h100-nvl", 6250),
        ("h200-nvl", 6250),
        ("l40s", 6250),
        ("l4", 6250),
        ("rtx-4090", 6250),
    ],
)
def test_rule_c_pcie_cards_take_their_generations_dgx_share_and_say_it_is_unverified(key, share):
    figure = CATALOG[key].figures["server_share_usd"]
    assert figure.value == share and "unverified" in figure.source


@pytest.mark.parametrize(
    "bigger, smaller",
    [
        ("h200", "h100-sxm"),  # same GPU, more and faster memory
        ("a100-80gb-sxm", "a100-40gb-sxm"),
        ("a100-80gb-pcie", "a100-40gb-pcie"),
        ("h200-nvl", "h100-nvl"),
        ("b300", "b200"),
    ],
)
def test_no_part_is_cheaper_to_own_than_a_part_of_its_family_it_strictly_dominates(bigger, smaller):
    assert owned(bigger) >= owned(smaller)


def test_h200_costs_more_to_own_an_hour_than_h100_as_inferencex_has_it():
    a = load_assumptions("owned")
    h100 = hourly_cost(1, CATALOG["h100-sxm"], 700, a).total
    h200 = hourly_cost(1, CATALOG["h200"], 700, a).total
    assert h200 == pytest.approx((32_000 + 6_250) / (4 * 8760) + 0.7 * 1.58 * 0.08) and h200 > h100


def test_b200_is_priced_at_the_midpoint_of_its_range_not_the_top():
    price = CATALOG["b200"].figures["price_usd"]
    assert price.value == 40_000 and "midpoint" in price.source and "30,000-50,000" in price.source


@pytest.mark.parametrize("key", GPUS)
def test_every_rented_gpu_has_a_min_median_max_range_in_order_with_providers(key):
    entry = CATALOG[key]
    present = [name for name in RENTAL_RANGE if entry.get(name) is not None]
    assert present in ([], list(RENTAL_RANGE)), f"{key}: {present}"
    if present:
        low, median, high = (entry.get(name) for name in RENTAL_RANGE)
        assert 0 < low <= median <= high, key
        assert entry.figures["rental_usd_per_hour"].source.startswith(
            ("median", "midpoint", "Lambda 1x GH200", "TensorWave")
        ), key


@pytest.mark.parametrize(
    "key, low, median, high",
    [
        ("h100-sxm", 2.69, 3.99, 10.98),
        ("h200", 3.59, 4.545, 7.91),
        ("b200", 5.98, 6.89, 7.15),
        ("a100-80gb-sxm", 1.39, 2.19, 3.43),
        ("a100-80gb-pcie", 1.19, 1.59, 3.67),
        ("mi300x", 1.50, 1.99, 6.00),
    ],
)
def test_rental_ranges_are_the_references_offers(key, low, median, high):
    assert tuple(CATALOG[key].get(name) for name in RENTAL_RANGE) == (low, median, high)


def test_the_vcpu_rate_comes_from_an_x86_instance():
    rate = CATALOG["cpu-vcpu"].figures["rental_usd_per_hour"]
    assert rate.value == pytest.approx(0.2016 / 4) == pytest.approx(0.1008 / 2)
    assert "m7i" in rate.source and "x86" in rate.source and "m7g" not in rate.source


@pytest.mark.parametrize(
    "key, memory, bandwidth, tdp, bf16, fp8",
    [
        ("mi300x", 192, 5.3, 750, 1307.4, 2614.9),
        ("mi325x", 256, 6.0, 1000, 1307.4, 2614.9),
        ("mi355x", 288, 8.0, 1400, 2500, 5000),
        ("gb200", 186, 8.0, 1200, 2500, 5000),
        ("b300", 288, 8.0, 1200, 2250, 4500),
        ("h200-nvl", 141, 4.8, 600, 835, 1670),
        ("gh200", 96, 4.0, 1000, 989, 1979),
    ],
)
def test_added_accelerators_have_their_specs(key, memory, bandwidth, tdp, bf16, fp8):
    entry = CATALOG[key]
    assert (
        entry.get("memory_gb"),
        entry.get("bandwidth_tbs"),
        entry.tdp_w,
        entry.get("bf16_tflops"),
        entry.get("fp8_tflops"),
    ) == (memory, bandwidth, tdp, bf16, fp8)


def test_reserved_rates_where_a_source_gives_one():
    have = {key for key in GPUS if CATALOG[key].get("reserved_usd_per_hour") is not None}
    assert have == {
        "a100-40gb-sxm",
        "a100-80gb-sxm",
        "a100-80gb-pcie",
        "h100-sxm",
        "h200",
        "b200",
        "gb200",
        "b300",
        "mi300x",
        "mi325x",
        "mi355x",
        "l40s",
    }
    assert CATALOG["h200"].get("reserved_usd_per_hour") == 2.90  # InferenceX costr, as the inferencex-rental preset


@pytest.mark.parametrize("key", ["h100-pcie", "h100-nvl", "l4", "rtx-4090", "gh200"])
def test_a_missing_reserved_rate_is_one_line_naming_the_gpu_and_the_ways_out(key):
    with pytest.raises(UserError) as e:
        hourly_cost(1, find_hardware(key, load_catalog()), 300, load_assumptions("reserved-rental"))
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"hardware {key} reserved_usd_per_hour: is not in the catalog (no sourced term-contract")
    assert "--preset on-demand-rental" in message and f"--set rate=rates --set 'rates={{{key}=2}}'" in message


def test_the_suggested_rates_setting_prices_the_gpu():
    a = load_assumptions("reserved-rental", settings=["rate=rates", "rates={h100-pcie=2}"])
    assert hourly_cost(1, CATALOG["h100-pcie"], 350, a).rental == pytest.approx(2 / 0.8)


def test_a_part_with_only_a_term_rate_points_owned_pricing_at_the_reserved_preset():
    with pytest.raises(
        UserError,
        match=r"^hardware mi355x price_usd: is not in the catalog; use a rental preset "
        r"\(--preset reserved-rental\)",
    ):
        hourly_cost(1, CATALOG["mi355x"], 1400, load_assumptions("owned"))
