"""Points set side by side: each MoE model beside its dense pair, the same point on each hardware, the cheapest."""

import pandas as pd

# An MoE point and its dense pair's point match on all of these (the workload where the table has it).
PAIR_KEYS = ["engine", "hardware", "batch_size", "isl", "osl", "workload_label"]


def _present(priced: pd.DataFrame, keys: list[str]) -> list[str]:
    """The keys the table has: a table saved before workloads were recorded has no workload column."""
    return [k for k in keys if k in priced]


def moe_dense_pairs(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE point beside the point of the dense model its card pairs with, at the same PAIR_KEYS;
    the other columns of each side suffixed _moe and _dense."""
    moe = priced[(priced["kind"] == "moe") & priced["pairs_with"].notna()]
    keys = _present(priced, PAIR_KEYS)
    return moe.merge(priced, left_on=["pairs_with", *keys], right_on=["model", *keys], suffixes=("_moe", "_dense"))


def offline_moe_vs_dense(priced: pd.DataFrame) -> pd.DataFrame:
    """The MoE/dense pairs as a table: throughput, $/M and their cost ratio."""
    pairs = moe_dense_pairs(priced)
    pairs["MoE / dense cost"] = pairs["total_per_mtok_usd_moe"] / pairs["total_per_mtok_usd_dense"]
    return pairs.rename(
        columns={
            "model_moe": "MoE",
            "model_dense": "dense",
            "batch_size": "batch",
            "output_tok_s_moe": "MoE output tok/s",
            "output_tok_s_dense": "dense output tok/s",
            "total_per_mtok_usd_moe": "MoE $/M",
            "total_per_mtok_usd_dense": "dense $/M",
        }
    )[
        [
            "engine",
            "hardware",
            "MoE",
            "dense",
            "batch",
            "isl",
            "osl",
            "MoE output tok/s",
            "dense output tok/s",
            "MoE $/M",
            "dense $/M",
            "MoE / dense cost",
        ]
    ]


def hardware_comparison(priced: pd.DataFrame) -> pd.DataFrame:
    """$/M of the same model, engine, batch and lengths on each hardware, where more than one hardware ran it."""
    keys = _present(priced, ["model", "engine", "precision", "batch_size", "isl", "osl", "workload_label"])
    if "precision" in keys:  # a record that does not say is taken as BF16, as `compare` matches it
        priced = priced.assign(precision=priced["precision"].fillna("bf16"))
    wide = priced.pivot_table(index=keys, columns="hardware", values="total_per_mtok_usd", aggfunc="first")
    wide = wide[wide.notna().sum(axis=1) > 1]
    wide.columns = [f"{h} $/M" for h in wide.columns]
    return wide.reset_index().rename(columns={"batch_size": "batch"})


def cheapest(priced: pd.DataFrame) -> pd.Series | None:
    """The point with the lowest $/M tokens, or None in an empty table."""
    return None if priced.empty else priced.loc[priced["total_per_mtok_usd"].idxmin()]


def cheapest_per(priced: pd.DataFrame, column: str) -> list[pd.Series]:
    """The cheapest point of each value of `column` (e.g. per model)."""
    return [cheapest(group) for _, group in priced.groupby(column)]
