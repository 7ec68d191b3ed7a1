"""Service levels of projections: which point keeps a tier, and the cheapest GPU count and batch that does."""

import math

import pandas as pd
import pytest

from bench.inputs.cards import load_card
from bench.inputs.tiers import Tier, shipped_tiers
from tokencost.analysis.calibration import calibration_for
from tokencost.analysis.service_level import (
    FLOOR,
    KV_MAXIMUM,
    NOT_REACHABLE,
    cheapest_meeting,
    largest_batch,
    meets,
    service_batches,
)
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.roofline import required_figures
from tokencost.pricing.serving_model import project_throughput, time_to_first_token_s

IX = {f"ix-{n}": Tier(percentile=50, min_tok_s_user=n) for n in (30, 50, 100)}


def test_a_tier_is_kept_at_its_limits_and_not_past_them():
    chat = shipped_tiers()["chat"]  # TTFT <= 2000 ms, TPOT <= 100 ms
    assert meets(IX["ix-50"], 50.0, math.nan) and not meets(IX["ix-50"], 49.9, 10.0)
    assert meets(chat, 10.0, 2000.0)
    assert not meets(chat, 10.0, 2000.1) and not meets(chat, 9.9, 100.0)
    paces = pd.Series([60.0, 20.0, 0.0])
    assert meets(IX["ix-30"], paces, pd.Series([1.0, 1.0, 1.0])).tolist() == [True, False, False]


def test_the_largest_batch_is_found_by_bisection():
    assert largest_batch(lambda b: b <= 37, 1000) == 37
    assert largest_batch(lambda b: True, 10) == 10
    assert largest_batch(lambda b: False, 10) == 0


def _rows(points):
    """(GPUs, batch, tok/s per user, TTFT ms, $/M) for one model on one GPU at one shape."""
    return pd.DataFrame(
        [
            {"model": "m", "hardware": "h", "accelerator_count": g, "batch_size": b}
            | {"tok_s_per_user": pace, "ttft_ms": ttft, "usd": usd}
            for g, b, pace, ttft, usd in points
        ]
    )


def test_each_tier_gets_the_cheapest_gpu_count_and_batch_that_keeps_it():
    rows = _rows(
        [
            (1, 8, 60.0, 100.0, 0.50),
            (1, 64, 35.0, 150.0, 0.10),
            (1, 256, 12.0, 300.0, 0.04),
            (2, 64, 55.0, 80.0, 0.15),
            (2, 128, 40.0, 90.0, 0.09),
        ]
    )
    answers = cheapest_meeting(rows, IX, "usd", ["model", "hardware"]).set_index("tier")
    chosen = answers[["accelerator_count", "batch_size", "usd"]].dropna().astype(float)
    # worked by hand: no limit -> 1 x 256; >= 30 tok/s -> 2 x 128 ($0.09 beats 1 x 64 at $0.10);
    # >= 50 -> 2 x 64 ($0.15 beats 1 x 8 at $0.50); >= 100 -> no point is that fast (60 at most)
    assert chosen.to_dict("index") == {
        FLOOR: {"accelerator_count": 1, "batch_size": 256, "usd": 0.04},
        "ix-30": {"accelerator_count": 2, "batch_size": 128, "usd": 0.09},
        "ix-50": {"accelerator_count": 2, "batch_size": 64, "usd": 0.15},
    }
    assert answers.loc["ix-100", "status"] == NOT_REACHABLE and answers.loc["ix-100", "best_tok_s_per_user"] == 60
    assert answers.loc[FLOOR, "tier_limits"] == "none (a batch-processing floor)"


def test_a_tie_goes_to_fewer_gpus():
    rows = _rows([(2, 64, 40.0, 90.0, 0.10), (1, 32, 40.0, 90.0, 0.10), (4, 128, 40.0, 90.0, 0.10)])
    answer = cheapest_meeting(rows, IX, "usd", ["model", "hardware"]).set_index("tier").loc["ix-30"]
    assert (answer["accelerator_count"], answer["batch_size"]) == (1, 32)


def test_a_ttft_limit_rules_out_a_point_fast_enough_on_pace():
    interactive = {"interactive": shipped_tiers()["interactive"]}  # TTFT <= 500 ms, TPOT <= 25 ms
    rows = _rows([(1, 8, 50.0, 700.0, 0.10), (2, 8, 45.0, 400.0, 0.20)])
    answer = cheapest_meeting(rows, interactive, "usd", ["model"]).set_index("tier").loc["interactive"]
    assert (answer["accelerator_count"], answer["usd"]) == (2, 0.20)


@pytest.mark.parametrize("gpus", [1, 2])
def test_the_batches_found_keep_their_tier_and_one_more_sequence_does_not(gpus):
    card, entry = load_card("llama-3.1-8b"), find_hardware("h100-sxm", load_catalog())
    found = service_batches(card, entry, gpus, 1024, 1024, shipped_tiers())
    hardware, calibration = required_figures(entry, gpus), calibration_for(entry)[0]

    def keeps(tier, batch):
        p = project_throughput(card, hardware, gpus, batch, 1024, 1024, calibration)
        return meets(tier, p.tok_s_per_user, 1000 * time_to_first_token_s(card, hardware, 1024, 1024, calibration, p))

    assert {"ix-30", "ix-50", "chat", KV_MAXIMUM} <= set(found)
    for name, batch in found.items():
        if name == KV_MAXIMUM:
            continue
        tier = shipped_tiers()[name]
        assert keeps(tier, batch)
        assert batch == found[KV_MAXIMUM] or not keeps(tier, batch + 1)
    assert found["ix-50"] < found["ix-30"] <= found[KV_MAXIMUM]  # a faster pace, a smaller batch
