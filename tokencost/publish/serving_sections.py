"""The report's serving sections: cost against interactivity, at target interactivities, and MoE vs dense.

A point measured several times is one row, one dot and one front point: its measurements' medians
(Report.serving_points); serve_costs.csv keeps every measurement, serve_medians.csv the medians.
"""

import pandas as pd

from bench.run.record import PointRecord
from tokencost.analysis.interactivity import at_interactivity, default_targets, serving_moe_vs_dense
from tokencost.pricing.serving import INTERPOLATION
from tokencost.publish import figures
from tokencost.publish.columns import SERVING_HEADERS, cost_table, serving_compact, serving_notes
from tokencost.publish.document import Plot, Report, Section


def serving_sections(report: Report) -> list[Section]:
    """The serving table with its two front plots, cost at target interactivities, and dense vs MoE."""
    priced = report.serving_points
    if priced.empty:
        return []
    note = report.methods.caption(priced["label"])
    unit = figures.per_unit(priced)  # GPU, or vCPU on a CPU, as the points were priced
    table = cost_table(priced, serving_compact(priced), SERVING_HEADERS, report.methods)
    table |= {view: _per(unit, table[view]) for view in ("table", "full_table") if table.get(view) is not None}
    table["table_notes"] += serving_notes(priced)
    files = {"serve_costs.csv": report.serving} | ({"serve_medians.csv": priced} if "n" in priced else {})
    return [
        Section(
            "Serving: cost against interactivity",
            [
                (
                    "Requests through an OpenAI-compatible server, timed by the client: latencies, throughput and "
                    "interactivity are measured over each point's measured requests (warm-up excluded). 'within SLO' is "
                    f"the share of requests meeting {records_slo(report.records)} (goodput). 'on front' marks the "
                    "Pareto-optimal points: no other point is both cheaper and more interactive. Energy and $ as each "
                    "point's method (Methods, above) states." + _repeats_text(priced) + _tiers_text(priced)
                )
            ],
            **table,
            plots=[
                Plot(
                    "cost_vs_interactivity",
                    "Cost vs interactivity",
                    f"$ per million input+output tokens against output tokens/s per user, fronts drawn through "
                    f"the Pareto-optimal points, each labelled with its load. {note}.",
                    figures.fronts(
                        priced,
                        "total_per_mtok_usd",
                        "$ per million tokens (input + output)",
                        False,
                        figures.report_palette(report),
                    ),
                ),
                Plot(
                    "throughput_vs_interactivity",
                    f"Throughput per {unit} vs interactivity",
                    f"Output tokens/s per {unit} against tokens/s per user. {note}.",
                    figures.fronts(
                        priced,
                        "output_tok_s_per_gpu",
                        f"output tokens/s per {unit}",
                        True,
                        figures.report_palette(report),
                    ),
                ),
            ],
            csv_files=files,
        ),
        Section(
            "Serving: cost at a target interactivity",
            [
                f"$/M input+output tokens and output tok/s per {unit} {INTERPOLATION}, per model, hardware, engine and "
                "lengths; "
                "estimated, and left blank outside the measured range."
            ],
            table=_per(unit, at_interactivity(priced, default_targets(priced))),
        ),
        Section(
            "Serving: dense vs MoE at the same interactivity",
            [
                f"Each MoE model and the dense model its card pairs with, at interactivities both fronts reach (the "
                f"lowest, middle and highest of the overlap), {INTERPOLATION}; $ estimated from measured points "
                "priced as their methods (Methods, above) state. 'MoE / dense cost' below 1 means the MoE model "
                "serves users at that speed more cheaply."
            ],
            table=serving_moe_vs_dense(priced),
        ),
    ]


def _per(unit: str, table: pd.DataFrame) -> pd.DataFrame:
    """A table's 'per GPU' headers as the points were priced: per vCPU on a CPU (the CSV files keep their names)."""
    return table.rename(columns=lambda c: c.replace("per GPU", f"per {unit}")) if unit != "GPU" else table


def _repeats_text(points) -> str:
    """The section's words on points measured several times ('' where none was)."""
    if "n" not in points or not (points["n"] > 1).any():
        return ""
    return (
        " A point measured several times (the same run, model, hardware, engine, workload and load) is shown "
        "once: each number is the median of its measurements, 'n' counts them and '$/M ±' is half their range "
        "of $/M as a share of the median; the full table gives the range (min–max) of throughput, $/M, TTFT, "
        "TPOT, interactivity and goodput, serve_costs.csv every measurement and serve_medians.csv the medians."
    )


def _tiers_text(points) -> str:
    """The section's words on service-level tiers ('' where no point was checked against any)."""
    if "tiers_met" not in points or points["tiers_met"].isna().all():
        return ""
    return (
        " 'tiers met' names the service-level tiers whose limits a point kept: every request completed, and "
        "TTFT and TPOT at the tier's percentile within its limits; serve_costs.csv has, per tier, whether it "
        "was met and $/M within it (tier_NAME_usd_per_mtok: the point's hourly cost over the prompt and "
        "output tokens of the requests that each kept the tier's limits)."
    )


def records_slo(records: list[PointRecord]) -> str:
    """The goodput SLOs the serving records were measured against, in words."""
    slos = {(r.goodput.slo_ttft_ms, r.goodput.slo_tpot_ms) for r in records if r.mode == "serve" and r.ok and r.goodput}
    described = [
        " and ".join(part for part in (f"TTFT <= {t:g} ms" if t else "", f"TPOT <= {p:g} ms" if p else "") if part)
        or "no SLO"
        for t, p in sorted(slos, key=str)
    ]
    return "; ".join(described) or "no SLO"
