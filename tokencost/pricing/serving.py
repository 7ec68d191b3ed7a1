"""Serving points priced: $/M tokens against interactivity, and the Pareto fronts that mark the best points.

Interactivity is 1000 / median TPOT (tokens per second per user), InferenceX's
x axis. A front keeps the points no other point beats on both axes, per
(model, hardware, engine, ISL/OSL, workload); values between front points are
interpolated with a monotone cubic (PCHIP), so the interpolated cost never
turns back between two measured points. InferenceX uses Steffen's monotone
spline; both keep the front's monotonicity and differ slightly in shape.
"""

import numpy as np
import pandas as pd

from bench.run.record import PointRecord
from tokencost.pricing.api_prices import ApiPrice
from tokencost.pricing.assumptions import Assumptions
from tokencost.pricing.catalog import HardwareEntry
from tokencost.pricing.table import measured_points, price_table

FRONT_GROUP = ["model", "hardware", "engine", "isl", "osl"]
# A front never mixes workloads: a shared-prefix point may share a random point's mean lengths.
WORKLOAD_FRONT_GROUP = [*FRONT_GROUP, "workload_label"]
INTERPOLATION = "interpolated along the measured Pareto front (monotone cubic, PCHIP)"


def serve_table(records: list[PointRecord], catalog: list[HardwareEntry], a: Assumptions,
                api: ApiPrice) -> pd.DataFrame:
    """One priced row per serving point, with per-GPU throughput and front membership."""
    priced = price_table(measured_points(records, mode="serve"), catalog, a, api)
    if priced.empty:
        return priced
    priced["output_tok_s_per_gpu"] = priced["output_tok_s"] / priced["accelerator_count"]
    priced["load"] = [f"conc {int(c)}" if pd.notna(c) else f"rate {r:g}/s"
                      for c, r in zip(priced["concurrency"], priced["request_rate"])]
    priced["on_cost_front"] = False
    for _, group in priced.groupby(WORKLOAD_FRONT_GROUP, dropna=False):
        front = pareto_front(group, "interactivity", "total_per_mtok_usd", higher_y_better=False)
        priced.loc[front.index, "on_cost_front"] = True
    return priced


def pareto_front(points: pd.DataFrame, x: str, y: str, *, higher_y_better: bool) -> pd.DataFrame:
    """The points no other point beats on both axes (higher x is better), sorted by x."""
    valid = points.dropna(subset=[x, y])
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
