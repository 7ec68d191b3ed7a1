"""A multi-node engine priced: every node's GPUs, and the fabric between the nodes as a stated assumption."""

import re

import pandas as pd
import pytest

from bench.errors import UserError
from tests.support.records_factory import point_record, serve_record
from tokencost.pricing.assumptions import INTERCONNECT_KEYS, load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import COMPONENTS, hourly_cost
from tokencost.pricing.priced_runs import Pricing

H100 = "NVIDIA H100 80GB HBM3"
# DeepSeek-R1 over Ray on two 8-GPU H100 nodes, as bench.run.record writes one
TWO_NODES = [
    {"node_id": "n0", "ip": "10.0.0.2", "hostname": "gpu-a", "gpus": 8},
    {"node_id": "n1", "ip": "10.0.0.3", "hostname": "gpu-b", "gpus": 8},
]


def h100_record(nodes=TWO_NODES, serve=False, **fields):
    """16 H100s metered at 8,000 W in all, 1,000 output (and 1,000 input) tokens a second; `nodes` as the record
    lists them ([] for one machine)."""
    hardware = {"accelerator": H100, "accelerator_count": 16, "gpus": [], "nodes": nodes}
    if serve:
        return serve_record(units=16, power_w=8000.0, hardware=hardware, **fields)
    return point_record(
        accelerator=H100,
        units=16,
        power_w=8000.0,
        output_tok_s=1000.0,
        method="nvml-counter",
        hardware=hardware,
        **fields,
    )


def priced_row(record, preset=None, settings=()):
    return Pricing.of(load_assumptions(preset, settings=settings), load_catalog()).price([record]).merged().iloc[0]


def test_two_nodes_pay_for_all_16_gpus_and_the_interconnect_under_owned():
    row = priced_row(h100_record())
    assert (row["nodes"], row["accelerator_count"]) == (2, 16)
    # capital: 16 x (27,500 + 6,250 server share) / (4 years x 8,760 h) = 540,000 / 35,040 = 15.410959 $/h
    assert row["capital_usd_per_h"] == pytest.approx(15.410959, rel=1e-6)
    # interconnect: 16 x 4,247.50 / 35,040 = 67,960 / 35,040 = 1.939498 $/h, amortised as capital is
    assert row["interconnect_usd_per_h"] == pytest.approx(1.939498, rel=1e-6)
    # energy at the gpu boundary: the 16 metered GPUs' 8 kW x PUE 1.58 x $0.08/kWh = 1.0112 $/h (no host,
    # so no interconnect watts either); no hosting, no idle hours at utilisation 1
    assert row["energy_usd_per_h"] == pytest.approx(1.0112, rel=1e-12)
    assert row["hosting_usd_per_h"] == 0 and row["rental_usd_per_h"] == 0
    # 18.361657 $/h over 2,000 tok/s (7.2 M tokens an hour) = 2.550230 $/M
    assert row["hourly_usd"] == pytest.approx(18.361657, rel=1e-6)
    assert row["total_per_mtok_usd"] == pytest.approx(2.550230, rel=1e-6)
    # 1.939498 / 18.361657 = 10.6 % of the hour
    assert row["interconnect_share"] == pytest.approx(0.105627, rel=1e-4)
    assert row["cost_split"] == "84% / 6% / 0% / 0% + 11% interconnect"
    assert "; 2 nodes, interconnect assumed 4247.5 USD/GPU; $ estimated from 'owned'" in row["label"]


def test_the_same_gpus_on_one_machine_cost_all_but_the_interconnect():
    one, two = priced_row(h100_record(nodes=[])), priced_row(h100_record())
    assert one["nodes"] == 1 and one["interconnect_usd_per_h"] == 0 and one["interconnect_share"] == 0
    for column in ("capital_usd_per_h", "energy_usd_per_h", "hosting_usd_per_h", "billed_power_w"):
        assert one[column] == two[column], column
    assert two["hourly_usd"] - one["hourly_usd"] == pytest.approx(two["interconnect_usd_per_h"], rel=1e-12)
    assert one["cost_split"] == "94% / 6% / 0% / 0%" and "nodes" not in one["label"]


@pytest.mark.parametrize("preset", ["owned", "neocloud-owned", "reserved-rental"])
def test_one_machine_never_carries_the_interconnect_whatever_its_values(preset, tmp_path):
    # a file, since --set refuses the values a preset does not read (each preset here reads only some of them)
    fabric = tmp_path / "fabric.toml"
    fabric.write_text(
        "interconnect_usd_per_gpu = 9000\ninterconnect_w_per_gpu = 500\ninterconnect_usd_per_gpu_hour = 3\n"
    )
    record = h100_record(nodes=[])
    shipped = priced_row(record, preset)
    changed = Pricing.of(load_assumptions(preset, fabric), load_catalog()).price([record]).merged().iloc[0]
    different = [
        c
        for c in shipped.index
        if c not in ("assumptions", "assumptions_hash", "label")
        and not (shipped[c] == changed[c] or (pd.isna(shipped[c]) and pd.isna(changed[c])))
    ]
    assert different == [] and changed["label"] == shipped["label"].replace(f"'{preset}'", f"'{preset}+fabric'")


def test_an_engine_on_one_listed_node_is_one_machine():
    row = priced_row(h100_record(nodes=TWO_NODES[:1]))
    assert row["nodes"] == 1 and row["interconnect_usd_per_h"] == 0


def test_neocloud_bills_the_interconnect_watts_as_the_hosts_by_hand():
    row = priced_row(h100_record(), "neocloud-owned")
    crf = 0.12 / (1 - 1.12**-4)  # 0.329234
    # 16 x 33,750 x 0.329234 / (8,760 h x 0.7) = 28.993248 $/h; the fabric's 16 x 4,247.50 alike = 3.648854 $/h
    assert row["capital_usd_per_h"] == pytest.approx(16 * 33750 * crf / (8760 * 0.7), rel=1e-12)
    assert row["interconnect_usd_per_h"] == pytest.approx(16 * 4247.5 * crf / (8760 * 0.7), rel=1e-12)
    assert row["interconnect_usd_per_h"] == pytest.approx(3.648854, rel=1e-6)
    # node boundary: H = 16 x (670 W host + 59.2 W interconnect) = 11,667.2 W, busy and idle; the 16 idle GPUs
    # draw 16 x 60 W = 960 W for 0.3 / 0.7 of a serving hour:
    # (8,000 + 11,667.2 + (960 + 11,667.2) x 0.3 / 0.7) / 1000 x 1.42 x 0.08 = 2.848958 $/h
    assert row["billed_power_w"] == pytest.approx(19667.2, rel=1e-12)
    assert row["billed_idle_power_w"] == pytest.approx(12627.2, rel=1e-12)
    assert row["energy_usd_per_h"] == pytest.approx(2.848958, rel=1e-6)
    # hosting: 16 x (0.7 kW TDP + 0.6702 + 0.0592 kW) = 22.8672 kW x $150 x 12 / (8,760 h x 0.7) = 6.712485 $/h
    assert row["hosting_usd_per_h"] == pytest.approx(6.712485, rel=1e-6)
    assert row["power_w_boundary"] == pytest.approx(19667.2, rel=1e-12)
    assert "+670 W/GPU host; 2 nodes, interconnect assumed 4247.5 USD/GPU, +59.2 W/GPU;" in row["label"]


def test_rented_nodes_pay_the_rate_for_all_16_gpus_and_the_fabric_only_if_given_a_rate():
    row = priced_row(h100_record(), "on-demand-rental")
    # the catalog's on-demand H100 rate, $3.99 per GPU-hour, x 16 GPUs; the fabric is in the provider's rate
    assert row["rental_usd_per_h"] == pytest.approx(16 * 3.99) and row["interconnect_usd_per_h"] == 0
    assert "; 2 nodes, interconnect in the rental rate;" in row["label"]
    priced = priced_row(h100_record(), "reserved-rental", ["interconnect_usd_per_gpu_hour=0.25"])
    # reserved: 16 x $2.00 / utilisation 0.8 = 40 $/h; the fabric: 16 x $0.25 / 0.8 = 5 $/h
    assert priced["rental_usd_per_h"] == pytest.approx(40.0) and priced["interconnect_usd_per_h"] == pytest.approx(5.0)
    assert priced["hourly_usd"] == pytest.approx(45.0)
    assert "; 2 nodes, interconnect assumed 0.25 USD/GPU-hour;" in priced["label"]


def test_a_two_node_serving_point_is_priced_per_gpu_of_both_nodes():
    row = priced_row(h100_record(serve=True))
    # 1,000 output tok/s over 16 GPUs; the same hour as the offline point at the same 8 kW
    assert (row["nodes"], row["output_tok_s_per_gpu"]) == (2, 1000.0 / 16)
    assert row["hourly_usd"] == pytest.approx(priced_row(h100_record())["hourly_usd"], rel=1e-12)


def test_hourly_cost_on_one_node_is_as_without_nodes():
    h100, a = find_hardware("h100-sxm", load_catalog()), load_assumptions("neocloud-owned")
    assert hourly_cost(8, h100, 4000.0, a, nodes=1) == hourly_cost(8, h100, 4000.0, a)
    two = hourly_cost(8, h100, 4000.0, a, nodes=2)
    assert two.interconnect > 0 and sum(getattr(two, c) for c in COMPONENTS) == pytest.approx(two.total)


def test_the_interconnect_can_be_overridden_by_file_and_flag(tmp_path):
    path = tmp_path / "fabric.toml"
    path.write_text(
        'interconnect_usd_per_gpu = { value = 1882.5, source = "one switch tier, our cluster" }\n'
        "interconnect_w_per_gpu = 20\n"
    )
    a = load_assumptions("neocloud-owned", path)
    assert (a.interconnect_usd_per_gpu, a.interconnect_w_per_gpu) == (1882.5, 20)
    assert a.sources["interconnect_usd_per_gpu"] == "one switch tier, our cluster"
    assert a.hash != load_assumptions("neocloud-owned").hash
    # 16 x 1,882.50 x CRF 0.329234 / (8,760 h x 0.7) = 1.617179 $/h
    assert priced_row(h100_record(), "neocloud-owned", ["interconnect_usd_per_gpu=1882.5"])[
        "interconnect_usd_per_h"
    ] == pytest.approx(1.617179, rel=1e-6)
    # none at all: the two nodes then cost what one machine of 16 GPUs does
    none = priced_row(h100_record(), "owned", ["interconnect_usd_per_gpu=0"])
    assert none["interconnect_usd_per_h"] == 0 and none["hourly_usd"] == priced_row(h100_record(nodes=[]))["hourly_usd"]


def test_the_shipped_interconnect_leaves_every_presets_hash_as_it_was():
    owned = load_assumptions()
    assert owned.interconnect_usd_per_gpu == 4247.5 and owned.interconnect_w_per_gpu == 59.2
    assert "assumption, not measured" in owned.sources["interconnect_usd_per_gpu"]
    assert "single-machine records never carry it" in owned.sources["interconnect_w_per_gpu"]
    # the hash the published costs.csv files carry (tests/fixtures/priced-before-schema-3, preset owned)
    assert owned.hash == "ee8b3b6a67b5"
    assert owned.with_changes(interconnect_usd_per_gpu=4247.5).hash == owned.hash
    assert owned.with_changes(interconnect_usd_per_gpu_hour=1).hash != owned.hash
    # at the gpu boundary the interconnect's watts move no figure, as the host's do not
    assert owned.with_changes(interconnect_w_per_gpu=80).hash == owned.hash
    assert (
        owned.with_changes(power_boundary="node", interconnect_w_per_gpu=80).hash
        != owned.with_changes(power_boundary="node").hash
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("-1", "is -1; input should be greater than or equal to 0"),
        ("nan", "is nan; input should be a finite number"),
        # the caps: $100,000 a GPU, 10,000 W a GPU, $10,000 a GPU-hour
        ("1e15", "is 1000000000000000.0; input should be less than or equal to"),
    ],
)
@pytest.mark.parametrize("key", INTERCONNECT_KEYS)
def test_a_bad_interconnect_value_is_a_one_line_user_error(tmp_path, key, value, message):
    with pytest.raises(UserError, match=f"^--set {key}: {re.escape(message)}") as error:
        load_assumptions(settings=[f"{key}={value}"])
    assert "\n" not in str(error.value)
    path = tmp_path / "bad.toml"
    path.write_text(f"{key} = {value}\n")
    with pytest.raises(UserError, match=rf"^--assumptions \S+ {key}: {re.escape(message)}"):
        load_assumptions(override=path)
