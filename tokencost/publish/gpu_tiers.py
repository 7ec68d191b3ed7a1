"""The GPU cost table at service levels: per model and GPU, the cheapest GPU count and batch that keeps each tier,
one table per basis (projected by tokencost; measured by ML.ENERGY), each with its workload, batch rule, power
source and token basis in its heading."""

import tomllib
from importlib import resources
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from bench.inputs.tiers import shipped_tiers
from bench.validation import parse
from tokencost.analysis.calibration import PROMPT_TOKENS, shipped_calibrations
from tokencost.analysis.projection import COLLECTIVES_FITTED, EXTRAPOLATED, GPU_COUNTS, SAME_EFFICIENCY
from tokencost.analysis.service_level import FLOOR, METHOD, NOT_REACHABLE, cheapest_meeting
from tokencost.publish.document import number

MEASURED_BY = "measured by ML.ENERGY, priced by tokencost"
PRECISIONS_NOTE = (
    "BF16 calibrated, bands held out by regime; FP8 efficiency fitted on one published H100 FP8/BF16 pair and FP4 "
    "uncalibrated (BF16's efficiency at its bytes and peak), their bands assumed twice BF16's, not validated; FP8 on "
    "the A100 weight-only"
)


class _Pair(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    moe: str
    dense: str
    verdict: Literal["yes", "no", "not established"]
    note: str
    source: str


def _quality_pairs() -> dict[tuple[str, str], tuple[str, str]]:
    """The MoE/dense pairs the report sets side by side, with whether each is quality-matched and why, and the
    source (tokencost/data/quality_pairs.toml)."""
    text = resources.files("tokencost").joinpath("data/quality_pairs.toml").read_text()
    pairs = [parse(_Pair, entry, f"quality_pairs.toml pair {i}") for i, entry in enumerate(tomllib.loads(text)["pair"])]
    return {(p.moe, p.dense): (p.verdict, f"{p.note}; source: {p.source}") for p in pairs}


PAIRS = _quality_pairs()


def usd(value) -> str:
    return "n/a" if value is None or pd.isna(value) else "$" + number(value, 3)


def tier_cell(row: dict, cost: str) -> str:
    """'$0.021 (2x96)': $/M at GPUs x batch; the floor adds the pace each user gets; an unreachable tier says what
    the best projected point falls short on."""
    if row["status"] == NOT_REACHABLE:
        tier = shipped_tiers().get(row["tier"])
        if tier is not None and tier.tpot_limit_ms and row["best_tok_s_per_user"] < 1000 / tier.tpot_limit_ms:
            return f"{NOT_REACHABLE} (at most {row['best_tok_s_per_user']:.0f} tok/s/user)"
        if tier is not None and tier.ttft_ms and row["best_ttft_ms"] > tier.ttft_ms:
            return f"{NOT_REACHABLE} (TTFT {number(row['best_ttft_ms'])} ms at best)"
        return NOT_REACHABLE
    cell = f"{usd(row[cost])} ({row['accelerator_count']:.0f}x{row['batch_size']:.0f}"
    return cell + (f", {row['tok_s_per_user']:.0f} tok/s/user)" if row["tier"] == FLOOR else ")")


def _band(row: dict) -> str:
    band = row.get("error_band")
    if band is None or pd.isna(band):
        return ""
    borrowed = "" if row["hardware"] in shipped_calibrations() else " (borrowed)"
    return f"+/-{band:.0%}{borrowed}"


def levels_table(levels: pd.DataFrame, cost: str, keys: list[str], extra=None) -> pd.DataFrame:
    """One row per `keys` group of a service-levels table, one column per tier (the floor first)."""
    rows = []
    for key, group in levels.groupby(keys, sort=True):
        records = group.to_dict("records")
        floor = next(r for r in records if r["tier"] == FLOOR)
        cells = {r["tier"]: tier_cell(r, cost) for r in records}
        rows.append(dict(zip(keys, key)) | cells | ({} if extra is None else extra(floor)))
    return pd.DataFrame(rows)


def projected_heading(shape: tuple[int, int], main: str) -> str:
    isl, osl = shape
    return (
        f"**Projected by tokencost** (not measured): ISL/OSL {isl}/{osl}, fixed lengths, in each row's precision "
        f"({PRECISIONS_NOTE}); power at TDP "
        f"(estimated); $/M input + output tokens, preset '{main}'. Batch rule: each cell is the cheapest GPU "
        f"count ({', '.join(map(str, GPU_COUNTS))}, where the model fits) and batch, written GPUs x batch, whose "
        "projected pace and TTFT keep the tier; the batch floor has no latency limit (usually the KV cache's "
        "largest batch): a batch-processing floor, not the price of a chat service. Per user: "
        f"{METHOD}. +/- on throughput: the batch floor's regime band, held out (tokencost/data/calibration/"
        "held-out.md), as its widest side; where the regime has no held-out data, the calibration's held-out error. "
        f"More than one GPU: tensor parallel "
        f"for dense models, expert parallel for MoE (as ML.ENERGY ran them); {SAME_EFFICIENCY}; "
        f"{COLLECTIVES_FITTED}; {EXTRAPOLATED}."
    )


def projected_levels_table(levels: pd.DataFrame, main: str, shape: tuple[int, int]) -> pd.DataFrame:
    """One row per model, GPU and precision, BF16 first and the other arms beside it, each with its band and
    the BF16 floor's $/M over its own (how much cheaper the arm's batch floor is)."""
    isl, osl = shape
    cost = f"usd_per_m_total {main}"
    chosen = levels[(levels["isl"] == isl) & (levels["osl"] == osl)]
    floors = chosen[(chosen["tier"] == FLOOR) & (chosen["precision"] == "bf16")].set_index(["model", "hardware"])[cost]

    def extra(floor: dict) -> dict:
        bf16 = floors.get((floor["model"], floor["hardware"]))
        gain = "" if floor["precision"] == "bf16" or bf16 is None else f"{bf16 / floor[cost]:.2f}x"
        return {"+/-": _band(floor), "BF16/this at floor": gain}

    table = levels_table(chosen, cost, ["model", "kind", "hardware", "precision"], extra)
    order = table["precision"].map(lambda p: (p != "bf16", p))
    table = table.assign(_order=order).sort_values(["model", "hardware", "_order"], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True).rename(columns={"hardware": "GPU"})


def measured_levels(measured: pd.DataFrame, main: str) -> pd.DataFrame:
    """The measured points' answers to the tiers they can: those limiting the pace only (the source publishes
    the median inter-token latency, not TTFT), over the GPU counts and batches measured."""
    pace_only = {name: tier for name, tier in shipped_tiers().items() if tier.ttft_ms is None}
    cost = f"usd_per_m_output {main}"
    return cheapest_meeting(
        measured.assign(ttft_ms=float("nan")),
        pace_only,
        cost,
        ["model", "kind", "hardware"],
        ["osl", "in_flight", "output_tok_s", "projected_over_measured", "projected_tok_s_per_user"],
    )


def measured_heading(main: str) -> str:
    return (
        f"**{MEASURED_BY[0].upper()}{MEASURED_BY[1:]}**: LMArena chat (prompts of about {PROMPT_TOKENS} tokens, "
        "assumed: not published; their output lengths), vLLM 0.11.1, BF16; batch rule: their max_num_seqs, the "
        "cheapest measured GPU count and batch per cell, written GPUs x batch; GPU power measured; $/M output "
        f"tokens (the whole hour charged to output tokens: input tokens not published), preset '{main}'. Per user: "
        "1000 / their median inter-token latency; TTFT not published, so only the tiers on pace are answered. "
        "projected/measured sets tokencost's projection at the floor's point against the measurement."
    )


def measured_levels_table(measured: pd.DataFrame, main: str) -> pd.DataFrame:
    levels = measured_levels(measured, main)
    return levels_table(
        levels,
        f"usd_per_m_output {main}",
        ["model", "kind", "hardware"],
        lambda floor: {
            "projected/measured output tok/s": f"{floor['projected_over_measured']:.2f}",
            "projected/measured tok/s per user": f"{floor['projected_tok_s_per_user'] / floor['tok_s_per_user']:.2f}",
        },
    ).rename(columns={"hardware": "GPU"})


def gpu_count_table(
    projected: pd.DataFrame, main: str, shape: tuple[int, int], precision: str = "bf16"
) -> pd.DataFrame:
    """The batch floor of each model and GPU on each GPU count, in one precision: $/M at the cheapest batch, the
    batch and the pace each user gets there."""
    isl, osl = shape
    cost = f"usd_per_m_total {main}"
    chosen = projected[(projected["isl"] == isl) & (projected["osl"] == osl) & (projected["precision"] == precision)]
    best = chosen.loc[chosen.groupby(["model", "hardware", "accelerator_count"])[cost].idxmin()]
    best = best.assign(
        cell=[
            f"{usd(r[cost])} (batch {r['batch_size']:.0f}, {r['tok_s_per_user']:.0f} tok/s/user)"
            for r in best.to_dict("records")
        ],
        count=best["accelerator_count"].map(lambda n: f"{n:.0f} GPU" + ("s" if n > 1 else "")),
    )
    wide = best.pivot(index=["model", "hardware"], columns="count", values="cell").fillna("does not fit")
    return wide[sorted(wide.columns, key=lambda c: int(c.split()[0]))].reset_index().rename(columns={"hardware": "GPU"})


def _ratio_cell(moe: dict, dense: dict, cost: str) -> str:
    reached = [r["status"] != NOT_REACHABLE for r in (moe, dense)]
    if not all(reached):
        return "MoE only" if reached[0] else "dense only" if reached[1] else "neither"
    counts = f"{dense['accelerator_count']:.0f} vs {moe['accelerator_count']:.0f} GPUs"
    return f"{dense[cost] / moe[cost]:.2f}x ({counts})"


def moe_vs_dense_levels(
    levels: pd.DataFrame, main: str, shape: tuple[int, int], precision: str = "bf16"
) -> pd.DataFrame:
    """Dense $/M over MoE $/M per pair, GPU and tier, in one precision, each model on its own cheapest GPU count
    and batch."""
    isl, osl = shape
    at = levels[(levels["isl"] == isl) & (levels["osl"] == osl) & (levels["precision"] == precision)]
    answer = {(r["model"], r["hardware"], r["tier"]): r for r in at.to_dict("records")}
    tiers = list(dict.fromkeys(at["tier"]))
    rows = []
    for (moe, dense), (quality, _) in PAIRS.items():  # the quality verdicts: tokencost/data/quality_pairs.toml
        for gpu in sorted(at["hardware"].unique()):
            if (moe, gpu, FLOOR) not in answer or (dense, gpu, FLOOR) not in answer:
                continue
            cells = {
                t: _ratio_cell(answer[moe, gpu, t], answer[dense, gpu, t], f"usd_per_m_total {main}") for t in tiers
            }
            rows.append({"MoE": moe, "dense": dense, "quality-matched": quality, "GPU": gpu} | cells)
    return pd.DataFrame(rows)
