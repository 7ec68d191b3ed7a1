"""vLLM's prefix cache over a point: its hit counters, read from the engine or a server, and the check that
the hits measured are near those the workload's structure implies."""

import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

from bench.prometheus import samples

COUNTERS = ("vllm:prefix_cache_queries", "vllm:prefix_cache_hits")  # prompt tokens looked up, and found
HIT_RATE_GAP = 0.15  # a measured hit rate further than this from the implied one fails the point's check


def point_salt(key: str) -> int:
    """A point's own seed salt: its prompts (and so its KV blocks) are its own, whatever ran before."""
    return zlib.crc32(key.encode())


def cache_salt(name: str) -> str:
    """A vLLM cache salt standing for `name` (a point key, say): vLLM's server takes at most 128 characters and
    no '/', '@' or backslash, so the name is hashed; requests add "-i" to it to be told apart."""
    return "tc" + hashlib.sha256(name.encode()).hexdigest()[:24]


def counters(metrics: Iterable[tuple[str, object]]) -> tuple[int, int] | None:
    """(queries, hits) summed over engines from (name, value) pairs of vLLM's metrics; None if either is absent.
    A Prometheus exposition names them with a `_total` suffix; the engine's own snapshot without."""
    totals: dict[str, float] = {}
    for name, value in metrics:
        name = name.removesuffix("_total")
        if name in COUNTERS and isinstance(value, (int, float)):
            totals[name] = totals.get(name, 0) + value
    if len(totals) < len(COUNTERS):
        return None
    queries, hits = COUNTERS
    return int(totals[queries]), int(totals[hits])


def counters_in_exposition(text: str) -> tuple[int, int] | None:
    """(queries, hits) from a server's /metrics text."""
    return counters((sample.name, sample.value) for sample in samples(text))


def hit_rate_check(measured: float | None, implied: float | None) -> dict[str, Any]:
    """Whether the measured hit rate is near the one the workload implies (None where either is unknown)."""
    # (the tolerance keeps a gap of exactly HIT_RATE_GAP, as floats compute it, inside)
    ok = None if measured is None or implied is None else abs(measured - implied) <= HIT_RATE_GAP + 1e-9
    return {"ok": ok, "measured": measured, "implied": implied, "max_gap": HIT_RATE_GAP}
