"""Serving points priced: $/M tokens against interactivity, and the Pareto fronts that mark the best points.

Interactivity is 1000 / median TPOT (tokens per second per user), InferenceX's
x axis. A front keeps the points no other point beats on both axes, per
(model, hardware, engine, ISL/OSL, workload); values between front points are
interpolated with a monotone cubic (PCHIP), so the interpolated cost never
turns back between two measured points. InferenceX uses Steffen's monotone
spline; both keep the front's monotonicity and differ slightly in shape.

A point measured several times (its records' `repeat` set) keeps one row per measurement here
(serve_table); median_of_repeats shows it once, each number the median of its measurements, with their
spread. Each service-level tier checked adds tier_NAME_met and tier_NAME_usd_per_mtok: the point's hourly
cost over the tokens (prompt and output) of the requests that each kept the tier's limits.
"""

from typing import Any

import numpy as np
import pandas as pd

from bench.inputs.tiers import Tier
from bench.run.record import PointRecord
from tokencost.pricing.api_prices import ApiPrice
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry
from tokencost.pricing.checks import checks_text, failed_names, implausible
from tokencost.pricing.table import REPEAT_COLUMNS, measured_points, price_table, tier_columns, tier_names

FRONT_GROUP = ["model", "hardware", "engine", "precision", "isl", "osl"]
# A front never mixes workloads: a shared-prefix point may share a random point's mean lengths.
WORKLOAD_FRONT_GROUP = [*FRONT_GROUP, "workload_label"]
INTERPOLATION = "interpolated along the measured Pareto front (monotone cubic, PCHIP)"


def serve_table(
    records: list[PointRecord], catalog: list[HardwareEntry], a: Assumptions, api: ApiPrice
) -> pd.DataFrame:
    """One priced row per serving point (per measurement of a repeated one), with per-GPU throughput, front
    membership and, where the records were checked against tiers, each tier's verdict and $/M within it."""
    chosen = [r for r in records if r.ok and r.mode == "serve"]
    points = measured_points(records, mode="serve")
    if any(r.repeat is not None or r.tiers for r in chosen):
        extra = pd.DataFrame(
            [{name: read(r) for name, read in REPEAT_COLUMNS.items()} for r in chosen],
            columns=list(REPEAT_COLUMNS),
            index=points.index,
        )
        points = pd.concat([points, extra, tier_columns(chosen).set_axis(points.index)], axis=1)
    priced = price_table(points, catalog, a, api)
    if priced.empty:
        return priced
    if names := tier_names(chosen):
        priced.attrs["tiers"] = tier_limits(chosen)
        for name in names:
            priced[f"tier_{name}_usd_per_mtok"] = tier_usd_per_mtok(priced, name)
        priced["tiers_met"] = [tiers_met(row, priced.attrs["tiers"]) for row in priced.to_dict("records")]
    priced["output_tok_s_per_gpu"] = priced["output_tok_s"] / priced["accelerator_count"]
    priced["load"] = [
        f"conc {int(c)}" if pd.notna(c) else f"rate {r:g}/s"
        for c, r in zip(priced["concurrency"], priced["request_rate"])
    ]
    return mark_cost_fronts(priced)


def mark_cost_fronts(priced: pd.DataFrame) -> pd.DataFrame:
    """on_cost_front: whether the point is on its group's Pareto front of $/M tokens against interactivity."""
    priced["on_cost_front"] = False
    for _, group in priced.groupby(WORKLOAD_FRONT_GROUP, dropna=False):
        front = pareto_front(group, "interactivity", "total_per_mtok_usd", higher_y_better=False)
        priced.loc[front.index, "on_cost_front"] = True
    return priced


def tier_usd_per_mtok(priced: pd.DataFrame, tier: str) -> pd.Series:
    """$ per million tokens served within a tier: the point's hourly cost over its duration, over the prompt and
    output tokens of the requests that each kept the tier's limits; NaN where none did."""
    tokens = pd.to_numeric(priced[f"tier_{tier}_total_tokens_within"], errors="coerce")
    return priced["hourly_usd"] / 3600 * priced["duration_s"] / tokens.where(tokens > 0) * 1e6


def tier_limits(records: list[PointRecord]) -> dict[str, dict[str, Any]]:
    """Each tier's limits as the records were checked against them (the last record's, where they differ)."""
    return {name: verdict.limits for r in records for name, verdict in (r.tiers or {}).items()}


# A point measured several times is one point: the same run, model, hardware, engine, workload and load.
REPEAT_GROUP = [
    "run_id",
    "model",
    "hardware",
    "accelerator_count",
    "engine",
    "precision",
    "workload_label",
    "load_model",
    "concurrency",
    "request_rate",
]
# The numbers shown with their spread over a repeated point's measurements: NAME_min, NAME_max, NAME_spread.
SPREAD_COLUMNS = [
    "output_tok_s",
    "total_per_mtok_usd",
    "ttft_p50_ms",
    "ttft_p90_ms",
    "tpot_p50_ms",
    "tpot_p90_ms",
    "interactivity",
    "goodput_rps",
    "goodput_share",
]


def median_of_repeats(priced: pd.DataFrame) -> pd.DataFrame:
    """One row per point: a point measured several times (`repeat` set) shown once, every number the median of
    its measurements, a tier met where most of them met it (more than half), and `n` and the spread of
    SPREAD_COLUMNS beside them: NAME_min, NAME_max and NAME_spread, half the range over the median. The table
    as it is where nothing was repeated; a point measured once gets n = 1 beside repeated ones."""
    if priced.empty or "repeat" not in priced or priced["repeat"].isna().all():
        return priced
    keys = [c for c in REPEAT_GROUP if c in priced]
    rows = []
    for _, group in priced.groupby(keys, dropna=False, sort=False):
        if len(group) > 1 and group["repeat"].notna().any():
            rows.append(_median_row(group))
        else:
            rows += [row | {"n": 1} for row in group.to_dict("records")]
    table = pd.DataFrame(rows)
    table.attrs = dict(priced.attrs)
    if "tiers_met" in table:
        table["tiers_met"] = [tiers_met(row, table.attrs.get("tiers", {})) for row in table.to_dict("records")]
    return mark_cost_fronts(table)


def _median_row(group: pd.DataFrame) -> dict[str, Any]:
    """A repeated point's measurements as one row (median_of_repeats)."""
    first = group.sort_values("repeat", na_position="first", kind="stable").iloc[0].to_dict()
    numbers = group.select_dtypes("number")
    row: dict[str, Any] = first | numbers.median().to_dict() | {"repeat": float("nan"), "n": len(group)}
    for column in [c for c in SPREAD_COLUMNS if c in numbers]:
        low, high, middle = numbers[column].min(), numbers[column].max(), row[column]
        row |= {
            f"{column}_min": low,
            f"{column}_max": high,
            f"{column}_spread": (high - low) / 2 / middle if middle else float("nan"),
        }
    for column in [c for c in group if c.startswith("tier_") and c.endswith("_met")]:
        verdicts = group[column].dropna()
        row[column] = bool(verdicts.sum() * 2 > len(verdicts)) if len(verdicts) else None
    failed = sorted({name for value in group["checks"] for name in failed_names(value)})
    row["checks"] = checks_text(failed) if failed else first["checks"]
    return row


def tiers_met(row: dict[str, Any] | pd.Series, limits: dict[str, dict[str, Any]]) -> str | None:
    """The tiers a point kept, comma-separated, each looser tier that a kept one implies left out (implied_by);
    "none" where it kept none; None where it was checked against none."""
    names = [
        c.removeprefix("tier_").removesuffix("_met")
        for c in row.keys()
        if c.startswith("tier_") and c.endswith("_met") and row[c] is not None and not pd.isna(row[c])
    ]
    if not names:
        return None
    met = [n for n in names if bool(row[f"tier_{n}_met"])]
    shown = [
        b
        for b in met
        if not any(
            a != b and implied_by(a, b, limits) and (not implied_by(b, a, limits) or met.index(a) < met.index(b))
            for a in met
        )
    ]
    return ", ".join(shown) or "none"


def implied_by(strict: str, loose: str, limits: dict[str, dict[str, Any]]) -> bool:
    """Whether keeping tier `strict` keeps tier `loose`: the same percentile, and each of loose's limits on TTFT
    and TPOT (its interactivity floor counted as a TPOT limit) at least strict's. False where either is unknown."""
    a, b = _tier(limits.get(strict)), _tier(limits.get(loose))
    if a is None or b is None or a.percentile != b.percentile:
        return False
    return _within(a.ttft_ms, b.ttft_ms) and _within(a.tpot_limit_ms, b.tpot_limit_ms)


def _within(strict: float | None, loose: float | None) -> bool:
    return loose is None or (strict is not None and strict <= loose)


def describe_limits(limits: dict[str, Any] | None) -> str:
    """A tier's limits in words (Tier.describe), e.g. 'p90 TTFT <= 500 ms, p90 TPOT <= 25 ms'; '?' if unknown."""
    tier = _tier(limits)
    return tier.describe() if tier else "?"


def _tier(limits: dict[str, Any] | None) -> Tier | None:
    try:
        return Tier(**limits) if limits else None
    except ValueError:
        return None


def pareto_front(points: pd.DataFrame, x: str, y: str, *, higher_y_better: bool) -> pd.DataFrame:
    """The points no other point beats on both axes (higher x is better), sorted by x; a point whose figures cannot
    be true (a failed plausibility check: tokencost.pricing.plausibility) is never one of them."""
    valid = points.dropna(subset=[x, y])
    if "checks" in valid:
        valid = valid[~valid["checks"].map(implausible).astype(bool)]
    sign = 1 if higher_y_better else -1
    ordered = valid.assign(_y=sign * valid[y]).sort_values([x, "_y"], ascending=[False, False])
    best = -np.inf
    keep = []
    for index, score in ordered["_y"].items():
        if score > best:  # better than every point at a higher or equal x
            keep.append(index)
            best = score
    return valid.loc[keep].sort_values(x)


def value_at(front: pd.DataFrame, x: str, y: str, target: float) -> float:
    """y at `target` along the front, or NaN outside the measured range."""
    from scipy.interpolate import PchipInterpolator

    xs, ys = front[x].to_numpy(dtype=float), front[y].to_numpy(dtype=float)
    if len(xs) == 0 or not xs[0] <= target <= xs[-1]:
        return float("nan")
    if len(xs) == 1:
        return float(ys[0])
    return float(PchipInterpolator(xs, ys)(target))
