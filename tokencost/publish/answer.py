"""What a report opens on, before any method or prose: what a million tokens cost (and which tokens), dense
against MoE at matched settings, any check the quoted point failed, and, for runs on CPUs, that tiny CPU models
say nothing about GPU costs. report.md and index.html both put these lines first.
"""

import pandas as pd

from tokencost.analysis.interactivity import serving_moe_vs_dense
from tokencost.analysis.pairs import cheapest, offline_moe_vs_dense
from tokencost.pricing.capacity import unit_name
from tokencost.pricing.checks import failed_names
from tokencost.pricing.table import TOKEN_BASIS
from tokencost.publish.document import Report, number

CPU_CAVEAT = (
    "Measured on CPUs: tiny models on a few vCPUs show the harness working end to end and say nothing about what a "
    "token costs on a GPU."
)
# Where a report holds GPU points beside the CPU ones (a comparison), the caveat is the CPU points'.
CPU_POINTS_CAVEAT = (
    "Its CPU points are tiny models on a few vCPUs: they say nothing about what a token costs on a GPU, and the "
    "GPU points beside them are what a GPU answer rests on."
)
RATIO = "MoE / dense cost"


def answer_lines(report: Report) -> list[str]:
    """The report's answer, one sentence a line; empty when no point was measured successfully."""
    serving_only = report.offline.empty and not report.serving_points.empty
    table = report.serving_points if serving_only else report.offline
    quoted = cheapest(table)
    if quoted is None:
        return ["No point was measured successfully, so there is no cost to quote."]
    return [
        _cost(report, table, quoted, serving_only),
        _moe_vs_dense(table, quoted, serving_only),
        _checks(quoted),
        *_cpu_caveat(table),
    ]


def _basis(row: pd.Series) -> str:
    basis = row.get("token_basis")
    return f"{basis if isinstance(basis, str) else TOKEN_BASIS} tokens"


def _cost(report: Report, table: pd.DataFrame, quoted: pd.Series, serving_only: bool) -> str:
    where = (
        f"serving at {quoted['load']} ({number(quoted['interactivity'])} tok/s per user)"
        if serving_only
        else f"batch {quoted['batch_size']}"
    )
    per_model = [cheapest(group) for _, group in table.groupby("model", sort=True)]
    others = [
        f"{row['model']} ${number(row['total_per_mtok_usd'])}"
        for row in per_model
        if row is not None and row["model"] != quoted["model"]
    ]
    return (
        f"A million {_basis(quoted)} cost ${number(quoted['total_per_mtok_usd'])} at the cheapest point: "
        f"{quoted['model']} ({quoted['kind']}), {quoted['engine']}, {where}, ISL {quoted['isl']}/OSL {quoted['osl']}, "
        f"on {quoted['hardware']} ({report.methods.cite([quoted['label']])})."
        + (f" Each other model at its cheapest: {'; '.join(others)}." if others else "")
    )


def _moe_vs_dense(table: pd.DataFrame, quoted: pd.Series, serving_only: bool) -> str:
    """Per MoE/dense pair: the ratio at the quoted point's settings where the pair was measured there, and the
    range over every matched point with how many of them the MoE model wins."""
    pairs = serving_moe_vs_dense(table) if serving_only else offline_moe_vs_dense(table)
    matched = "at the same interactivity" if serving_only else "at the same hardware, engine, batch and lengths"
    if pairs.empty:
        return f"Dense vs MoE: no MoE model was measured beside its dense pair {matched}."
    verdicts = []
    for (moe, dense), group in pairs.groupby(["MoE", "dense"], sort=True):
        ratios = group[RATIO].dropna()
        cheaper = int((ratios < 1).sum())
        wins = f"all {len(ratios)}" if cheaper == len(ratios) else f"{cheaper} of {len(ratios)}"
        spread = (
            f"{number(ratios.min(), 3)}x to {number(ratios.max(), 3)}x (median {number(ratios.median(), 3)}x)"
            if len(ratios) > 1
            else f"{number(ratios.iloc[0], 3)}x"
        )
        here = None if serving_only else _at_quoted(group, quoted)
        verdicts.append(
            f"{moe} (MoE) costs {spread} what {dense} (dense) costs per token, cheaper at {wins} matched points"
            if here is None
            else f"{moe} (MoE) costs {number(here, 3)}x what {dense} (dense) costs per token at the quoted point's "
            f"settings ({quoted['engine']}, batch {quoted['batch_size']}, on {quoted['hardware']}); {spread} over "
            f"{len(ratios)} matched points, cheaper at {cheaper}"
        )
    return f"Dense vs MoE {matched}: " + "; ".join(verdicts) + "."


def _at_quoted(pairs: pd.DataFrame, quoted: pd.Series) -> float | None:
    """The pair's cost ratio at the quoted point's engine, hardware, batch and lengths, if it was measured there."""
    if quoted["model"] not in (*pairs["MoE"], *pairs["dense"]):
        return None
    same = pairs[
        (pairs["engine"] == quoted["engine"])
        & (pairs["hardware"] == quoted["hardware"])
        & (pairs["batch"] == quoted["batch_size"])
        & (pairs["isl"] == quoted["isl"])
        & (pairs["osl"] == quoted["osl"])
    ]
    return float(same[RATIO].item()) if len(same) == 1 else None


def _checks(quoted: pd.Series) -> str:
    failed = failed_names(quoted.get("checks"))
    if not failed:
        return "The quoted point passed its validity checks."
    return (
        f"The quoted point failed {'a validity check' if len(failed) == 1 else 'validity checks'}: "
        f"{', '.join(failed)}; read its figures with that in mind."
    )


def _cpu_caveat(table: pd.DataFrame) -> list[str]:
    """The CPU caveat where some point ran on CPUs: all of them, or some beside GPU points."""
    on_cpu = [
        unit_name(accelerator, hardware) == "vCPUs"
        for accelerator, hardware in zip(table.get("accelerator", [None] * len(table)), table["hardware"])
    ]
    return [CPU_CAVEAT] if all(on_cpu) else [CPU_POINTS_CAVEAT] if any(on_cpu) else []
