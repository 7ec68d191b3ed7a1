"""Claims count only valid points of real models, and say how many they left out and why."""

import pytest

from bench.run.record import Validity
from bench.run.records import read_records
from tests.support import FIXTURES
from tests.support.records_factory import point_record
from tokencost.analysis.claims import CANNOT_TELL, NOT_SUPPORTED, chip_share, ten_cents, valid_points
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing

PASSED = Validity.of({"window_length": {"ok": True, "seconds": 60.0, "minimum_s": 30}})
H100 = {"accelerator": "NVIDIA H100 80GB HBM3", "units": 1, "method": "nvml-counter", "power_w": 700.0}


def _weights(record, weights):
    return record.model_copy(update={"model": record.model.model_copy(update={"weights": weights})})


def _priced(records, preset=None):
    return Pricing.of(load_assumptions(preset), load_catalog()).price(records).offline


@pytest.fixture
def mixed():
    """A valid real-model point at $0.146/M, and two far cheaper points a claim must not count."""
    return _priced(
        [
            _weights(
                point_record("llama-3.1-8b", batch=8, output_tok_s=1_000.0, validity=PASSED, **H100), "checkpoint"
            ),
            _weights(point_record("tiny-dense", batch=64, output_tok_s=50_000.0, validity=PASSED, **H100), "dummy"),
            # the factory's 10 s window fails the 30 s minimum, and 50,000 tok/s is above an H100's ceiling
            _weights(point_record("llama-3.1-8b", batch=64, output_tok_s=50_000.0, **H100), "checkpoint"),
        ]
    )


def test_ten_cents_ignores_failed_and_dummy_weight_points_and_says_so(mixed):
    result = ten_cents(mixed)
    # owned H100 at 700 W: $0.963185 capital + $0.08848 energy = $1.051665/h over 2,000 tok/s (7.2 M tokens/h)
    assert result["figure"] == pytest.approx(1.051665 / 7.2, rel=1e-5)
    assert result["verdict"] == NOT_SUPPORTED
    assert "llama-3.1-8b" in result["evidence"]
    assert (
        "[1 of 3 points counted; left out: 1 failed validity checks (1 window_length, 1 ceiling_too_low); "
        "1 ran on dummy (random) weights (tiny-dense)]"
    ) in result["evidence"]


def test_only_invalid_points_cannot_tell(mixed):
    result = ten_cents(mixed.iloc[1:])
    assert result["verdict"] == CANNOT_TELL and result["figure"] is None
    assert result["evidence"].startswith("no point counted [0 of 2 points counted; left out:")


def test_the_fixture_records_fail_their_window_so_no_claim_counts_them():
    priced = _priced(read_records(FIXTURES / "claims"))
    kept, note = valid_points(priced)
    assert kept.empty
    assert note.startswith(f"0 of {len(priced)} points counted; left out: {len(priced)} failed validity checks")
    # written before the weights field: the records cannot say whether the weights were real (all left out anyway)
    assert "do not say" not in note


def test_records_that_cannot_say_their_weights_are_counted_and_flagged():
    record = point_record("llama-3.1-8b", validity=PASSED, **H100)  # the factory's model has no weights field
    kept, note = valid_points(_priced([record]))
    assert len(kept) == 1
    assert note == (
        "1 of 1 points counted; 1 counted point(s) have records that do not say whether their weights were real"
    )


def test_chip_share_evidence_names_what_the_preset_leaves_out(mixed):
    result = chip_share(mixed, load_assumptions("owned"))
    assert "no cost of capital, no hosting or facility cost, no idle hours, GPU-only power" in result["evidence"]
    assert "no network capex, staff, software or support" in result["evidence"]
    assert "over 1 points" in result["evidence"]
    tco = chip_share(
        _priced([point_record("llama-3.1-8b", validity=PASSED, **H100)], "hyperscaler-owned"),
        load_assumptions("hyperscaler-owned"),
    )
    assert "no cost of capital" not in tco["evidence"] and "GPU-only power" not in tco["evidence"]
