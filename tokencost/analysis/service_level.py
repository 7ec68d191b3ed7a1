"""Service levels of projections: the pace each user reads at, the wait for the first token, and the cheapest
projected point (GPU count and batch) that meets each service-level tier.

A projection of B sequences gives every user the same pace (fixed lengths, a steady batch), so a tier's
percentile is not modelled: its TPOT and tok/s-per-user limits are checked against the projected pace, its
TTFT limit against the projected TTFT (tokencost.pricing.serving_model.time_to_first_token_s).
"""

from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import cache, partial

import pandas as pd

from bench.inputs.cards import ModelCard
from bench.inputs.precision import BF16, Precision
from bench.inputs.tiers import Tier
from tokencost.analysis.calibration import calibration_for
from tokencost.pricing.catalog import HardwareEntry
from tokencost.pricing.roofline import required_figures
from tokencost.pricing.serving_model import kv_sequences, project_throughput, time_to_first_token_s

METHOD = (
    "tok/s per user = projected output tok/s / batch (the sequences of a steady batch decode together); "
    "TTFT estimated as one request's prefill plus one decode step of the batch it joins (calibrated serving "
    "model; no queueing, no chunked prefill); with fixed lengths every user gets the same, so a tier's "
    "percentile is not modelled"
)
FLOOR = "batch floor"  # no latency limit: the cheapest batch, a batch-processing floor
KV_MAXIMUM = "KV-cache maximum"
NOT_REACHABLE = "not reachable"


def meets(tier: Tier, tok_s_per_user, ttft_ms):
    """Whether a pace (tok/s per user) and a TTFT (ms) keep the tier's limits; scalars or pandas Series alike."""
    ok = tok_s_per_user > 0
    if tier.min_tok_s_user is not None:
        ok = ok & (tok_s_per_user >= tier.min_tok_s_user)
    if tier.tpot_ms is not None:
        ok = ok & (1000 / tok_s_per_user <= tier.tpot_ms)
    if tier.ttft_ms is not None:
        ok = ok & (ttft_ms <= tier.ttft_ms)
    return ok


def largest_batch(keeps: Callable[[int], bool], most: int) -> int:
    """The largest batch of 1..most that `keeps` (true up to some batch, false beyond: a slower pace and a longer
    TTFT with every sequence added), or 0 when batch 1 does not."""
    return bisect_left(range(1, most + 1), True, key=lambda batch: not keeps(batch))


def service_batches(
    card: ModelCard,
    entry: HardwareEntry,
    gpus: int,
    isl: int,
    osl: int,
    tiers: dict[str, Tier],
    precision: Precision = BF16,
) -> dict[str, int]:
    """The batches worth projecting for the tiers on `gpus` GPUs: the most sequences the KV cache holds
    (KV_MAXIMUM) and, per tier, the largest batch whose projection keeps it (none where batch 1 does not)."""
    hardware = required_figures(entry, gpus, precision)
    calibration, _ = calibration_for(entry)
    most = kv_sequences(card, hardware, gpus, isl + osl / 2, precision=precision)

    @cache
    def pace(batch: int) -> tuple[float, float]:
        """tok/s per user and TTFT (ms) of `batch` sequences."""
        projection = project_throughput(card, hardware, gpus, batch, isl, osl, calibration, precision=precision)
        return projection.tok_s_per_user, 1000 * time_to_first_token_s(
            card, hardware, isl, osl, calibration, projection, precision=precision
        )

    def keeps(tier: Tier, batch: int) -> bool:
        return bool(meets(tier, *pace(batch)))

    found = {KV_MAXIMUM: most} if most > 0 else {}
    for name, tier in tiers.items():
        if batch := largest_batch(partial(keeps, tier), most):
            found[name] = batch
    return found


def cheapest_meeting(
    rows: pd.DataFrame, tiers: dict[str, Tier], cost: str, keys: list[str], carry: Sequence[str] = ()
) -> pd.DataFrame:
    """Per group of `keys` (a model on a GPU at one shape), the cheapest row by `cost` with no latency limit
    (FLOOR) and the cheapest that keeps each tier, over every GPU count and batch the rows hold; a tie goes
    to fewer GPUs, then the smaller batch. A tier no row keeps is NOT_REACHABLE, with the best pace and TTFT
    any row reached. Rows need accelerator_count, batch_size, tok_s_per_user, ttft_ms and `cost`; the chosen
    row's `carry` columns come along."""
    limits = {FLOOR: None, **tiers}
    out = []
    for key, group in rows.sort_values(["accelerator_count", "batch_size"], kind="stable").groupby(keys, sort=True):
        for name, tier in limits.items():
            keeping = group if tier is None else group[meets(tier, group["tok_s_per_user"], group["ttft_ms"])]
            base = dict(zip(keys, key)) | {
                "tier": name,
                "tier_limits": "none (a batch-processing floor)" if tier is None else tier.describe(),
            }
            if keeping.empty:
                out.append(
                    base
                    | {
                        "status": NOT_REACHABLE,
                        "best_tok_s_per_user": group["tok_s_per_user"].max(),
                        "best_ttft_ms": group["ttft_ms"].min(),
                    }
                )
                continue
            row = keeping.loc[keeping[cost].idxmin()]
            chosen = dict.fromkeys(["accelerator_count", "batch_size", "tok_s_per_user", "ttft_ms", cost, *carry])
            out.append(base | {"status": "reachable"} | {c: row[c] for c in chosen})
    return pd.DataFrame(out)
