"""Serving points read along their Pareto fronts: cost at a target interactivity, and MoE vs dense there."""

import numpy as np
import pandas as pd

from tokencost.pricing.serving import WORKLOAD_FRONT_GROUP, pareto_front, value_at


def at_interactivity(priced: pd.DataFrame, targets: list[float]) -> pd.DataFrame:
    """$/M tokens and output tok/s per GPU at each target interactivity, per front group."""
    rows = []
    front_group = [c for c in WORKLOAD_FRONT_GROUP if c in priced]  # a table saved before workloads has none
    for key, group in priced.groupby(front_group, dropna=False):
        cost_front = pareto_front(group, "interactivity", "total_per_mtok_usd", higher_y_better=False)
        tput_front = pareto_front(group, "interactivity", "output_tok_s_per_gpu", higher_y_better=True)
        for target in targets:
            rows.append(
                dict(zip(front_group, key))
                | {
                    "tok/s/user": target,
                    "$/M input+output": value_at(cost_front, "interactivity", "total_per_mtok_usd", target),
                    "output tok/s per GPU": value_at(tput_front, "interactivity", "output_tok_s_per_gpu", target),
                    "range measured": f"{cost_front['interactivity'].min():.3g}-{cost_front['interactivity'].max():.3g}",
                }
            )
    return pd.DataFrame(rows)


def serving_moe_vs_dense(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE model against its dense pair at the same interactivity, where both fronts reach it."""
    rows = []
    keys = [c for c in ["hardware", "engine", "isl", "osl", "workload_label"] if c in priced]
    for (model, pair, *key), moe in priced[priced["kind"] == "moe"].groupby(["model", "pairs_with", *keys]):
        dense = priced[(priced["model"] == pair) & (priced[keys] == pd.Series(key, index=keys)).all(axis=1)]
        fronts = [pareto_front(g, "interactivity", "total_per_mtok_usd", higher_y_better=False) for g in (moe, dense)]
        if dense.empty or fronts[1].empty:
            continue
        low = max(f["interactivity"].min() for f in fronts)
        high = min(f["interactivity"].max() for f in fronts)
        for target in sorted({low, (low + high) / 2, high}) if low <= high else []:
            moe_cost, dense_cost = (value_at(f, "interactivity", "total_per_mtok_usd", target) for f in fronts)
            rows.append(
                dict(zip(keys, key))
                | {
                    "MoE": model,
                    "dense": pair,
                    "tok/s/user": target,
                    "MoE $/M": moe_cost,
                    "dense $/M": dense_cost,
                    "MoE / dense cost": moe_cost / dense_cost,
                }
            )
    return pd.DataFrame(rows)


def default_targets(priced: pd.DataFrame, count: int = 3) -> list[float]:
    """Round interactivity targets inside the measured range."""
    low, high = priced["interactivity"].min(), priced["interactivity"].max()
    if not np.isfinite(low) or not np.isfinite(high):
        return []
    return sorted({float(f"{v:.2g}") for v in np.linspace(low, high, count + 2)[1:-1]})
