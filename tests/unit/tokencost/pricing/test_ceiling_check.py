"""A ceiling that is a ceiling: the run's measured bandwidth, the cache for a cache-resident model,
and a point above its ceiling failed, not efficient."""

import pytest

from bench.inputs.cards import load_card
from tests.support.records_factory import point_record
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.roofline import ceiling, hardware_of, host_hardware

CATALOG = load_catalog()
CPU = find_hardware("cpu-vcpu", CATALOG)
MEASURED = {
    "memory_bandwidth_gb_s": 20.0,
    "cache_bandwidth_gb_s": 80.0,
    "llc_bytes": 32 * 2**20,
    "bandwidth_threads": 2,
}


def _priced(**hardware):
    record = point_record("tiny-moe", kind="moe", batch=16, output_tok_s=500.0, isl=16, osl=16)
    record = record.model_copy(update={"hardware": record.hardware.model_copy(update=hardware)})
    return Pricing.of(load_assumptions("owned"), CATALOG).price([record]).offline.iloc[0]


def test_a_cache_resident_model_is_bounded_by_the_measured_cache_bandwidth():
    figures, basis = host_hardware(CPU, 2, MEASURED, resident_bytes=15e6)
    assert basis == "measured cache (cache-resident)" and figures.bandwidth_bytes_s == 80e9
    figures, basis = host_hardware(CPU, 2, MEASURED, resident_bytes=64 * 2**20)
    assert basis == "measured DRAM" and figures.bandwidth_bytes_s == 20e9
    figures, basis = host_hardware(CPU, 1, MEASURED, resident_bytes=64 * 2**20)  # one of the probe's two threads
    assert figures.bandwidth_bytes_s == 10e9
    assert host_hardware(CPU, 2, {}, 1)[1] == "catalog"


def test_a_priced_cpu_point_uses_its_runs_measured_bandwidth():
    row = _priced(**MEASURED)
    assert row["roofline_basis"] == "measured cache (cache-resident)"
    config = load_card("tiny-moe").config
    expected = ceiling(config, host_hardware(CPU, 2, MEASURED, 0)[0], 16, 16, 16)
    assert row["roofline_output_tok_s"] == pytest.approx(expected.bound_output_tok_s)
    assert row["roofline_expected_tok_s"] == pytest.approx(expected.output_tok_s)
    assert row["roofline_expected_tok_s"] < row["roofline_output_tok_s"]  # the MoE bound reads the fewest experts


def test_a_point_above_its_ceiling_fails_its_checks():
    row = _priced(memory_bandwidth_gb_s=1e-6, cache_bandwidth_gb_s=1e-6, llc_bytes=1, bandwidth_threads=2)
    assert row["roofline_fraction"] > 1
    assert row["checks"].startswith("failed:") and "ceiling_too_low" in row["checks"]


def test_without_a_measurement_the_catalog_stands():
    row = _priced()
    assert row["roofline_basis"] == "catalog"
    config = load_card("tiny-moe").config
    assert row["roofline_output_tok_s"] == pytest.approx(
        ceiling(config, hardware_of(CPU, 2), 16, 16, 16).bound_output_tok_s
    )
