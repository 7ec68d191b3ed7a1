"""The GPU cost table's summary and the seed questions answered from it, with numbers and error bands."""

import pandas as pd

from tokencost.analysis.calibration import shipped_calibrations
from tokencost.analysis.projection import COLLECTIVES_FITTED, EXTRAPOLATED, SAME_EFFICIENCY
from tokencost.pricing.api_prices import blended_per_mtok, in_force, load_api_prices
from tokencost.pricing.assumptions import load_assumptions
from tokencost.publish.document import number
from tokencost.publish.gpu_tiers import (
    MEASURED_BY,
    PAIRS,
    gpu_count_table,
    measured_heading,
    measured_levels_table,
    moe_vs_dense_levels,
    projected_heading,
    projected_levels_table,
    usd,
)

TEN_CENTS = 0.10
CHIP_SHARE = (0.60, 0.70)
GPT4_LAUNCH = "gpt-4-launch"


def _projected(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["basis"] == "projected"]


def _measured(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["basis"] != "projected"]


def _range(values: pd.Series, fmt=lambda v: f"{v:.2f}x") -> str:
    return f"median {fmt(values.median())} (range {fmt(values.min())} to {fmt(values.max())}, {len(values)} points)"


def _cost_range(cost: float, band: float) -> tuple[float, float]:
    """$/M bounds from a throughput band: cost is hourly / throughput, so throughput +/-band moves it this far."""
    return cost / (1 + band), cost / (1 - band) if band < 1 else float("inf")


def summary_markdown(table: pd.DataFrame, levels: pd.DataFrame, inputs) -> str:
    """Two tables, one basis each: projected at the first shape, per service-level tier; measured by ML.ENERGY."""
    main, shape = inputs.main_preset, inputs.shapes[0]
    return "\n".join(
        [
            projected_heading(shape, main),
            "",
            projected_levels_table(levels, main, shape).to_markdown(index=False),
            "",
            measured_heading(main),
            "",
            measured_levels_table(_measured(table), main).to_markdown(index=False),
            "",
        ]
    )


def chip_share(table: pd.DataFrame, presets: list[str]) -> list[str]:
    lines = ["## Are chips 60-70 % of the cost?", ""]
    projected = _projected(table)
    for preset in presets:
        shares = projected.groupby("hardware")[f"capital_share {preset}"].median().dropna()
        if load_assumptions(preset).ownership == "rented" or shares.empty:
            lines.append(f"- '{preset}' rents its GPUs: its rate hides the chip share.")
            continue
        inside = [k for k, s in shares.items() if CHIP_SHARE[0] <= s <= CHIP_SHARE[1]]
        verdict = "yes" if len(inside) == len(shares) else "no" if not inside else f"only on {', '.join(inside)}"
        lines.append(
            f"- '{preset}': capital (GPU and its server share) is "
            + ", ".join(f"{k} {s:.0%}" for k, s in shares.items())
            + f" of the hourly cost: **{verdict}**."
        )
    lines += [
        "",
        "The share depends on the preset's other lines: 'owned' has no cost of capital, hosting or idle "
        "hours, so its capital share is high; presets with financing, hosting and the node's power are "
        "closer to a total cost of ownership.",
        "",
    ]
    return lines


def h100_vs_a100(table: pd.DataFrame, main: str) -> list[str]:
    projected = _projected(table)
    keys = ["model", "isl", "osl", "batch_size", "accelerator_count"]
    pairs = projected[projected["hardware"] == "h100-sxm"].merge(
        projected[projected["hardware"] == "a100-80gb-sxm"], on=keys, suffixes=("_h100", "_a100")
    )
    lines = ["## H100 against A100 per token", ""]
    if pairs.empty:
        return lines + ["No matched projection.", ""]
    cost = pairs[f"usd_per_m_total {main}_a100"] / pairs[f"usd_per_m_total {main}_h100"]
    energy = pairs["j_per_output_token_a100"] / pairs["j_per_output_token_h100"]
    return lines + [
        f"- A100 80GB SXM over H100 SXM, $/M tokens under '{main}': {_range(cost)}.",
        f"- Tokens per joule at TDP, H100 over A100 (1x: no gain; the claim is 3x): {_range(energy)}.",
        "- Projected only, at the same model, lengths, batch and GPU count. The A100 borrows the H100's "
        "calibration (no A100 measurement is calibrated), so its error band is not validated. The often quoted "
        "3x holds only where the A100 is compute-bound; decode is bound by memory bandwidth, where the H100's "
        "edge is 3.35/2.04 = 1.6x at 1.75x the power.",
        "",
    ]


def moe_vs_dense(table: pd.DataFrame, levels: pd.DataFrame, main: str, shape: tuple[int, int]) -> list[str]:
    isl, osl = shape
    lines = [
        "## MoE against dense",
        "",
        f"Dense $/M over MoE $/M, projected at ISL/OSL {isl}/{osl} under '{main}', each model on its own cheapest "
        "GPU count and batch for the tier (dense vs MoE GPUs in brackets). No pair here is shown to answer equally "
        "well, so these compare cost at equal service, not at equal quality:",
        "",
        *[
            f"- {moe} and {dense}: quality-matched: {verdict} ({why})."
            for (moe, dense), (verdict, why) in PAIRS.items()
        ],
        "",
        moe_vs_dense_levels(levels, main, shape).to_markdown(index=False),
        "",
    ]
    measured = _measured(table)
    moe, dense = next(iter(PAIRS))
    same = measured[measured["model"] == moe].merge(
        measured[measured["model"] == dense],
        on=["hardware", "accelerator_count", "batch_size"],
        suffixes=("_moe", "_dense"),
    )
    if not same.empty:
        output = f"usd_per_m_output {main}"
        ratio = same[f"{output}_dense"] / same[f"{output}_moe"]
        best = measured.groupby(["model", "hardware"])[output].min().unstack("model")
        at_best = (best[dense] / best[moe]).dropna()
        lines.append(
            f"- {moe} against {dense}, {MEASURED_BY} ($/M output tokens, a separate basis): at equal batch and "
            f"GPUs {_range(ratio)}; each on its cheapest measured GPU count and batch {_range(at_best)}."
        )
    lines += [
        "",
        "MoE models read fewer weights per token, so they win most at small batches and where the "
        "dense model's KV cache limits its batch; more GPUs give the dense model's KV cache room, which "
        "narrows the gap at the batch floor.",
        "",
    ]
    return lines


def ten_cents(table: pd.DataFrame, presets: list[str]) -> list[str]:
    lines = [f"## Is ${TEN_CENTS:.2f} per million tokens reached?", ""]
    projected = _projected(table)
    for preset in presets:
        column = f"usd_per_m_total {preset}"
        if projected[column].isna().all():
            continue
        row = projected.loc[projected[column].idxmin()]
        low, high = _cost_range(row[column], row["error_band"])
        verdict = "yes" if high <= TEN_CENTS else "within the band" if low <= TEN_CENTS else "no"
        borrowed = (
            "" if row["hardware"] in shipped_calibrations() else ", a band borrowed from another GPU's calibration"
        )
        lines.append(
            f"- '{preset}': cheapest projected {usd(row[column])} per million tokens "
            f"({usd(low)} to {usd(high)} in the error band{borrowed}): {row['model']}, "
            f"{row['accelerator_count']:.0f} x {row['hardware']}, batch {row['batch_size']:.0f}, "
            f"ISL/OSL {row['isl']:.0f}/{row['osl']:.0f}: **{verdict}**."
        )
    measured = _measured(table)
    column = f"usd_per_m_output {presets[0]}"
    row = measured.loc[measured[column].idxmin()]
    lines += [
        f"- {MEASURED_BY}, '{presets[0]}': cheapest {usd(row[column])} per million output tokens "
        f"({row['model']}, {row['accelerator_count']:.0f} x {row['hardware']}, batch {row['batch_size']:.0f}).",
        "",
    ]
    return lines


def versus_apis(table: pd.DataFrame, main: str) -> list[str]:
    """Today's API prices (and GPT-4's launch price) at a 1:1 token mix, against the cheapest projection."""
    projected = _projected(table)
    even = projected[projected["isl"] == projected["osl"]]
    column = f"usd_per_m_total {main}"
    cheapest = even.groupby("model")[column].min()
    rows = []
    for key, api in load_api_prices().items():
        if not (key == GPT4_LAUNCH or in_force(api)) or "70b" in key:  # no 70B model is projected here
            continue
        model = next((m for m in cheapest.index if key.startswith(m)), None)
        ours = cheapest[model] if model else cheapest.min()
        blended = blended_per_mtok(api, 1, 1)
        cached = (
            (api.cached_input_per_mtok_usd + api.output_per_mtok_usd) / 2
            if api.cached_input_per_mtok_usd is not None
            else None
        )
        rows.append(
            {
                "API": f"{api.display_name} ({api.provider}, from {api.valid_from or api.date})",
                "$/M at 1:1": usd(blended),
                "input cached": usd(cached),
                "self-hosted": f"{usd(ours)} ({model or 'cheapest model'})",
                "self-hosted / API": f"{number(ours / blended, 2)}x",
            }
        )
    return [
        "## Self-hosting against API prices",
        "",
        f"Each API's price per million tokens at one input token per output token, with input at its "
        f"cached price where the provider publishes one, against the cheapest projected self-hosted $/M "
        f"(preset '{main}', equal ISL and OSL) of the same model where we carry it, else of any model. "
        "Self-hosting at the cheapest batch assumes the GPUs are kept that busy.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]


def answers_markdown(table: pd.DataFrame, levels: pd.DataFrame, inputs) -> str:
    main, first = inputs.main_preset, inputs.shapes[0]
    projected, measured = _projected(table), _measured(table)
    lines = [
        "# GPU cost table: projected, and measured by others",
        "",
        f"{len(projected)} projected rows in `costs.csv` ({', '.join(inputs.models)} on {', '.join(inputs.gpus)}, "
        f"ISL/OSL {', '.join(f'{i}/{o}' for i, o in inputs.shapes)}, on every GPU count of one node that holds "
        "the model; batches: the inputs' batch sizes, the KV cache's largest and the largest that keeps each "
        f"service-level tier), {len(measured)} rows {MEASURED_BY} in `measured-by-others.csv`, and the cheapest "
        f"point per tier in `service-levels.csv`. Presets: {', '.join(inputs.presets)}. Nothing here was measured "
        "by tokencost on a GPU; the two bases are never ranked in one table.",
        "",
        "## The table",
        "",
        summary_markdown(table, levels, inputs),
        *[
            line
            for isl, osl in inputs.shapes[1:]
            for line in (
                f"## Longer inputs: ISL {isl} / OSL {osl}",
                "",
                projected_heading((isl, osl), main) + " No published measurement uses these lengths.",
                "",
                projected_levels_table(levels, main, (isl, osl)).to_markdown(index=False),
                "",
            )
        ],
        "## The GPU count",
        "",
        f"The batch floor of each model and GPU on each GPU count (projected, ISL/OSL {first[0]}/{first[1]}, "
        f"preset '{main}'): more GPUs give the KV cache room for a larger batch, and cost collectives. The tables "
        f"above pick the cheapest count per tier. Several GPUs: {SAME_EFFICIENCY}; {COLLECTIVES_FITTED}; "
        f"{EXTRAPOLATED}.",
        "",
        gpu_count_table(projected, main, first).to_markdown(index=False),
        "",
        *chip_share(table, inputs.presets),
        *h100_vs_a100(table, main),
        *moe_vs_dense(table, levels, main, first),
        *ten_cents(table, inputs.presets),
        *versus_apis(table, main),
        "## How this was made",
        "",
        "`tokencost gpu-table results/gpu-cost-table --in-place` rebuilds every file here from `inputs.toml`, the model "
        "cards, the hardware catalog, the presets, the service-level tiers (`bench/inputs/tiers.toml`) and the "
        "calibration (`tokencost/data/calibration/`). A later measured run replaces projected rows: "
        "`tokencost compare results/gpu-cost-table/costs.csv RUN_DIR` says which rows are now measured and how far "
        "the projection was off.",
        "",
    ]
    return "\n".join(lines)
