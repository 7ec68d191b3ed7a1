"""A serving point checked against service-level tiers: met or not, why, and the tokens served within each."""

import numpy as np

from bench.inputs.tiers import Tier
from bench.run.record import TierVerdict
from bench.serve.metrics import RequestTiming


def verdict(tier: Tier, requests: list[RequestTiming]) -> TierVerdict:
    """Whether the point's requests kept the tier: every request completed, and TTFT and TPOT at the tier's
    percentile within its limits (TPOT also within its interactivity floor). The requests that individually
    kept both limits are the ones whose tokens the tier's $/M is charged on."""
    done = [r for r in requests if r.ok]
    failed = len(requests) - len(done)
    if not done:
        return TierVerdict(met=False, limits=tier.limits(), why=f"all {len(requests)} requests failed")
    pct = tier.percentile
    ttft_ms = float(np.percentile([r.ttft for r in done], pct)) * 1000
    tpots = [r.tpot for r in done if r.tpot is not None]
    tpot_ms = float(np.percentile(tpots, pct)) * 1000 if tpots else None
    tpot_limit = tier.tpot_limit_ms
    why = []
    if failed:
        why.append(f"{failed} of {len(requests)} requests failed")
    if tier.ttft_ms is not None and ttft_ms > tier.ttft_ms:
        why.append(f"p{pct} TTFT {ttft_ms:.4g} ms > {tier.ttft_ms:g} ms")
    if tpot_limit is not None and tpot_ms is not None and tpot_ms > tpot_limit:
        why.append(f"p{pct} TPOT {tpot_ms:.4g} ms > {tpot_limit:.4g} ms")
    within = [
        r
        for r in done
        if (tier.ttft_ms is None or r.ttft * 1000 <= tier.ttft_ms)
        and (tpot_limit is None or (r.tpot or 0.0) * 1000 <= tpot_limit)
    ]
    return TierVerdict(
        met=not why,
        limits=tier.limits(),
        ttft_ms=ttft_ms,
        tpot_ms=tpot_ms,
        tok_s_user=1000.0 / tpot_ms if tpot_ms else None,
        requests_within=len(within),
        output_tokens_within=sum(r.output_tokens or 0 for r in within),
        total_tokens_within=sum((r.prompt_tokens or 0) + (r.output_tokens or 0) for r in within),
        why="; ".join(why) or None,
    )


def verdicts(tiers: dict[str, Tier], requests: list[RequestTiming]) -> dict[str, TierVerdict]:
    return {name: verdict(tier, requests) for name, tier in tiers.items()}
