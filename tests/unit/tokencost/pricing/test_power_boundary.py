"""The power boundary: which watts J/token and tok/s per MW are reported at, and which the bill covers."""

import re

import pytest

from bench.errors import UserError
from tests.support.cli import tokencost
from tests.support.records_factory import point_record
from tokencost.pricing.assumptions import load_assumptions, preset_names
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import boundary_power, hourly_cost
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.table import BOUNDARY_COLUMNS

CATALOG = load_catalog()
H100 = find_hardware("h100-sxm", CATALOG)


def _hyperscaler(*settings):
    return load_assumptions("hyperscaler-owned", settings=list(settings))


def test_node_energy_of_an_h100_by_hand():
    # 700 W GPU + 670 W host share (InferenceX all-in 1.37 kW) = 1,370 W x PUE 1.1 x $0.0735/kWh
    a = _hyperscaler("utilization=1")
    assert (a.power_boundary, a.host_w_per_gpu, a.pue, a.usd_per_kwh) == ("node", 670, 1.1, 0.0735)
    cost = hourly_cost(1, H100, 700, a)
    assert cost.energy == pytest.approx(1.370 * 1.1 * 0.0735, rel=1e-12) == pytest.approx(0.1107645, rel=1e-12)
    # hosting on the provisioned node: (0.7 kW TDP + 0.67 kW host) x $100/kW-month x 12 / 8760 h
    assert cost.hosting == pytest.approx(1.37 * 100 * 12 / 8760, rel=1e-12)


def test_idle_hours_of_the_node_draw_the_idle_gpu_and_the_whole_host():
    cost = hourly_cost(1, H100, 700, _hyperscaler())  # utilisation 0.8: 0.25 idle hours per serving hour
    # busy 1,370 W; idle 60 W (the catalog's idle H100) + 670 W host = 730 W
    assert cost.energy == pytest.approx((1370 + 730 * 0.2 / 0.8) / 1000 * 1.1 * 0.0735, rel=1e-12)
    assert cost.energy == pytest.approx(0.125519625, rel=1e-12)
    assert cost.hosting == pytest.approx(1.37 * 100 * 12 / (8760 * 0.8), rel=1e-12)


def test_gpu_boundary_prices_gpu_watts_only_as_before():
    cost = hourly_cost(1, H100, 700, _hyperscaler("utilization=1", "power_boundary=gpu"))
    assert cost.energy == pytest.approx(0.7 * 1.1 * 0.0735, rel=1e-12)
    assert cost.hosting == pytest.approx(0.7 * 100 * 12 / 8760, rel=1e-12)


def test_facility_reports_node_times_pue_but_bills_what_node_bills():
    node, facility = _hyperscaler("utilization=1"), _hyperscaler("utilization=1", "power_boundary=facility")
    assert hourly_cost(1, H100, 700, facility) == hourly_cost(1, H100, 700, node)
    at_node, at_facility = boundary_power(1, H100, 700, node), boundary_power(1, H100, 700, facility)
    assert at_node.watts == at_node.billed_w == at_facility.billed_w == 1370
    assert at_facility.watts == pytest.approx(1370 * 1.1)
    gpu = boundary_power(1, H100, 700, _hyperscaler("power_boundary=gpu"))
    assert gpu.watts == gpu.billed_w == 700 and gpu.host_w == 0


def test_host_share_per_hardware_and_per_vcpu():
    a = _hyperscaler()
    assert boundary_power(8, find_hardware("b200", CATALOG), 8000, a).host_w == 8 * 710  # InferenceX 1.71 - 1.00 kW
    assert boundary_power(2, find_hardware("cpu-vcpu", CATALOG), 5.0, a).host_w == 2 * 1.25
    mine = _hyperscaler("host_w_by_hardware={h100-sxm=500}")
    assert boundary_power(1, H100, 700, mine).watts == 1200


def test_every_priced_row_says_its_boundary():
    record = point_record(
        "llama-3.1-8b",
        accelerator="NVIDIA H100 80GB HBM3",
        units=1,
        method="nvml-counter",
        power_w=350.0,
        output_tok_s=1000.0,
    )  # 350 W, 1,000 output and 2,000 total tok/s
    for preset in preset_names():
        table = Pricing.of(load_assumptions(preset), CATALOG).price([record]).offline
        row = table.iloc[0]
        assert set(BOUNDARY_COLUMNS) <= set(table.columns)
        assert row["power_boundary"] == load_assumptions(preset).power_boundary
        assert f"power: {row['power_boundary']} boundary" in row["label"]
    row = Pricing.of(_hyperscaler(), CATALOG).price([record]).offline.iloc[0]
    assert row["power_w_boundary"] == 1020  # 350 W measured + 670 W host
    assert row["j_per_output_token"] == pytest.approx(0.35)  # the GPU's joules, as measured
    assert row["j_per_output_token_boundary"] == pytest.approx(1.02)
    assert row["tok_s_per_mw"] == pytest.approx(2000 / 1020e-6)
    assert (row["billed_power_w"], row["billed_idle_power_w"]) == (1020, 730)
    assert row["label"].endswith("; power: node boundary, +670 W/GPU host; $ estimated from 'hyperscaler-owned'")
    floor = Pricing.of(load_assumptions("owned"), CATALOG).price([record]).offline.iloc[0]
    assert floor["power_w_boundary"] == 350 and floor["j_per_output_token_boundary"] == pytest.approx(0.35)
    assert "power: gpu boundary, a floor" in floor["label"]


def test_inferencex_presets_reproduce_its_tokens_per_mw_at_tdp():
    # InferenceX: tok/s per MW = tok/s per GPU x 1000 / all-in kW per GPU (1.37 H100, 1.71 B200)
    for gpu, all_in_kw in (("NVIDIA H100 80GB HBM3", 1.37), ("NVIDIA B200", 1.71)):
        record = point_record(
            "llama-3.1-8b",
            accelerator=gpu,
            units=1,
            method="none",
            output_tok_s=500.0,
            energy={
                "method": "none",
                "boundary": "none",
                "energy_j": None,
                "avg_power_w": None,
                "basis": "not measured",
                "measured": False,
            },
        )
        row = Pricing.of(load_assumptions("inferencex-hyperscaler"), CATALOG).price([record]).offline.iloc[0]
        assert row["power_basis"] == "estimated-from-tdp"
        assert row["power_w_boundary"] == pytest.approx(all_in_kw * 1000)
        assert row["tok_s_per_mw"] == pytest.approx(1000 * 1000 / all_in_kw)
        assert row["j_per_output_token_boundary"] == pytest.approx(all_in_kw * 1000 / 500)


def test_rented_rows_carry_no_electricity_bill():
    record = point_record("llama-3.1-8b", accelerator="NVIDIA H100 80GB HBM3", units=1, method="nvml-counter")
    row = Pricing.of(load_assumptions("inferencex-rental"), CATALOG).price([record]).offline.iloc[0]
    assert row["billed_power_w"] != row["billed_power_w"]  # NaN: the rate covers the power


def test_the_hash_moves_only_with_values_that_move_a_figure(tmp_path):
    def hash_of(text):
        (tmp_path / "a.toml").write_text(f'name = "mine"\n{text}')  # a file: --set refuses what is not read
        return load_assumptions(override=tmp_path / "a.toml").hash

    assert hash_of("host_w_per_gpu = 100") == hash_of("host_w_per_gpu = 200")  # unused at the gpu boundary
    node = 'power_boundary = "node"\n'
    assert hash_of(node + "host_w_per_gpu = 100") != hash_of(node + "host_w_per_gpu = 200")
    assert hash_of(node) != hash_of('power_boundary = "gpu"')


@pytest.mark.parametrize(
    "setting, message",
    [
        ("power_boundary=rack", r"^--set power_boundary: is 'rack'; input should be 'gpu', 'node' or 'facility'"),
        ("host_w_per_gpu=-5", r"^--set host_w_per_gpu: is -5; input should be greater than or equal to 0"),
    ],
)
def test_bad_boundary_settings_are_one_line_errors(setting, message):
    with pytest.raises(UserError, match=message):
        load_assumptions(settings=[setting])


def test_quote_prints_the_boundary_and_reads_at_120_columns():
    result = tokencost(
        "quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--preset", "hyperscaler-owned", "--set", "utilization=1"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "power at the node boundary: 700 W at TDP, estimated + 670 W host share = 1,370 W" in out
    assert "1.37 J per input+output token" in out and "729,927 input+output tok/s per MW" in out
    assert "electricity billed: 1,370 W (node) x PUE 1.1 x $0.0735/kWh" in out
    assert "energy $0.1108" in out  # 0.1107645 at 4 significant digits
    tiny = tokencost("quote", "--gpu", "h100-sxm", "--gpus", "8", "--tok-s", "1000000", "--set", "power_boundary=node")
    assert tiny.returncode == 0, tiny.stderr
    for text in (out, tiny.stdout):
        assert max(len(line) for line in text.splitlines()) <= 120
        figures = re.sub(r"hash \w+", "", text)  # a hash may read as 4e55
        assert not re.search(r"\d[eE][+-]?\d", figures), text  # no scientific notation
    assert "power at the node boundary" in tiny.stdout


def test_quote_prints_input_and_output_prices_only_when_split():
    whole = tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "1000").stdout
    assert "$/M by type: not split; give --input-share" in whole and " input, " not in whole.split("$/M by type")[1]
    split = tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "1000", "--input-share", "0.2").stdout
    # $1.051665/h: 20 % over 1.8 M input tokens an hour, 80 % over 1.8 M output tokens
    assert "$/M by type: 0.1169 input, 0.4674 output (the hour split by --input-share 0.2 of time on input)" in split
