"""The GPU cost table's summary and the seed questions answered from it, with numbers and error bands."""

from collections.abc import Sequence

import pandas as pd

from tokencost.analysis.projection import COLLECTIVES_FITTED, EXTRAPOLATED, SAME_EFFICIENCY
from tokencost.pricing.catalog import load_catalog
from tokencost.publish import seed_answers
from tokencost.publish.gpu_precisions import skipped_arms
from tokencost.publish.gpu_tiers import (
    MEASURED_BY,
    PAIRS,
    gpu_count_table,
    measured_heading,
    measured_levels_table,
    moe_vs_dense_levels,
    projected_heading,
    projected_levels_table,
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


def moe_vs_dense(table: pd.DataFrame, levels: pd.DataFrame, inputs, shape: tuple[int, int]) -> list[str]:
    isl, osl = shape
    main = inputs.main_preset
    lines = [
        "## MoE against dense",
        "",
        "Each pair named quality-matched or not, with the source of the verdict (tokencost/data/quality_pairs.toml). "
        "A pair not shown to answer equally well compares cost at equal service, not at equal quality:",
        "",
        *[
            f"- {moe} and {dense}: quality-matched: **{verdict}** ({why})."
            for (moe, dense), (verdict, why) in PAIRS.items()
        ],
        "",
        *seed_answers.moe_vs_dense_presets(levels, inputs, shape),
        seed_answers.basis(
            f"ISL/OSL {isl}/{osl}, fixed lengths, BF16",
            "each model on its own cheapest GPU count and batch for the tier (dense vs MoE GPUs in brackets)",
            "TDP (estimated)",
            f"dense $/M over MoE $/M, input + output tokens, preset '{main}', projected",
        ),
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


def answers_markdown(table: pd.DataFrame, levels: pd.DataFrame, inputs, peers: Sequence[str] = ()) -> str:
    """The report: the table per service level, the GPU count, the peers' measurements in tables of their own
    (`peers`: their sections, tokencost.publish.peer_tables), then the seed questions answered."""
    main, first = inputs.main_preset, inputs.shapes[0]
    catalog = load_catalog()
    projected, measured = _projected(table), _measured(table)
    lines = [
        "# GPU cost table: projected, and measured by others",
        "",
        f"{len(projected)} projected rows in `costs.csv` ({', '.join(inputs.models)} on {', '.join(inputs.gpus)}, "
        f"ISL/OSL {', '.join(f'{i}/{o}' for i, o in inputs.shapes)}, in {', '.join(p.name for p in inputs.precisions)}, "
        "on every GPU count of one node that holds the model; batches: the inputs' batch sizes, the KV cache's "
        f"largest and the largest that keeps each service-level tier), {len(measured)} rows {MEASURED_BY} in "
        "`measured-by-others.csv`, the rows measured by InferenceX and by MLPerf submitters in "
        "`measured-by-inferencex.csv` and `measured-by-mlperf.csv`, and the cheapest point per tier in "
        f"`service-levels.csv`. Presets: {', '.join(inputs.presets)}. Nothing here was measured by tokencost on a "
        "GPU; each basis has tables of its own, never ranked with another's.",
        "",
        *(
            ["Precision arms not projected, and why:", "", *(f"- {line}" for line in skipped), ""]
            if (skipped := skipped_arms(inputs, catalog))
            else []
        ),
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
        f"preset '{main}', BF16): more GPUs give the KV cache room for a larger batch, and cost collectives. The tables "
        f"above pick the cheapest count per tier. Several GPUs: {SAME_EFFICIENCY}; {COLLECTIVES_FITTED}; "
        f"{EXTRAPOLATED}.",
        "",
        seed_answers.basis(
            f"ISL/OSL {first[0]}/{first[1]}, fixed lengths, BF16",
            "per GPU count, the cheapest batch with no latency limit (batch floor)",
            "TDP (estimated)",
            f"$/M input + output tokens, preset '{main}', projected",
        ),
        "",
        gpu_count_table(projected, main, first).to_markdown(index=False),
        "",
        *peers,
        *seed_answers.chip_share(inputs, catalog),
        *seed_answers.h100_vs_a100(levels, projected, inputs),
        *seed_answers.b200_fp4_vs_h100_fp8(levels, projected, inputs, catalog),
        *moe_vs_dense(table, levels, inputs, first),
        *seed_answers.ten_cents(projected, inputs, catalog),
        *seed_answers.ten_cents_measured(measured, inputs),
        *seed_answers.versus_apis(levels, inputs, catalog),
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
