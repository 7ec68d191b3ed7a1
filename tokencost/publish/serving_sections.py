"""The report's serving sections: cost against interactivity, at target interactivities, and MoE vs dense."""

from bench.run.record import PointRecord
from tokencost.analysis.interactivity import at_interactivity, default_targets, serving_moe_vs_dense
from tokencost.pricing.serving import INTERPOLATION
from tokencost.publish import figures
from tokencost.publish.columns import SERVING_COMPACT, SERVING_HEADERS, cost_table
from tokencost.publish.document import Plot, Report, Section


def serving_sections(report: Report) -> list[Section]:
    """The serving table with its two front plots, cost at target interactivities, and dense vs MoE."""
    priced = report.serving
    if priced.empty:
        return []
    note = report.methods.caption(priced["label"])
    return [
        Section(
            "Serving: cost against interactivity",
            [("Requests through an OpenAI-compatible server, timed by the client: latencies, throughput and "
              "interactivity are measured over each point's measured requests (warm-up excluded). 'within SLO' is "
              f"the share of requests meeting {records_slo(report.records)} (goodput). 'on front' marks the "
              "Pareto-optimal points: no other point is both cheaper and more interactive. Energy and $ as each "
              "point's method (Methods, above) states.")],
            **cost_table(priced, SERVING_COMPACT, SERVING_HEADERS, report.methods),
            plots=[
                Plot("cost_vs_interactivity", "Cost vs interactivity",
                     f"$ per million tokens against tokens/s per user, fronts drawn through the "
                     f"Pareto-optimal points, each labelled with its load. {note}.",
                     figures.fronts(priced, "total_per_mtok_usd", "$ per million tokens", False)),
                Plot("throughput_vs_interactivity", "Throughput per GPU vs interactivity",
                     f"Output tokens/s per GPU (per vCPU on a CPU) against tokens/s per user. {note}.",
                     figures.fronts(priced, "output_tok_s_per_gpu", "output tokens/s per GPU", True)),
            ],
            csv_files={"serve_costs.csv": priced},
        ),
        Section(
            "Serving: cost at a target interactivity",
            [f"$/M tokens and output tok/s per GPU {INTERPOLATION}, per model, hardware, engine and lengths; "
             "estimated, and left blank outside the measured range."],
            table=at_interactivity(priced, default_targets(priced)),
        ),
        Section(
            "Serving: dense vs MoE at the same interactivity",
            [f"Each MoE model and the dense model its card pairs with, at interactivities both fronts reach (the "
             f"lowest, middle and highest of the overlap), {INTERPOLATION}; $ estimated from measured points "
             "priced as their methods (Methods, above) state. 'MoE / dense cost' below 1 means the MoE model "
             "serves users at that speed more cheaply."],
            table=serving_moe_vs_dense(priced),
        ),
    ]


def records_slo(records: list[PointRecord]) -> str:
    """The goodput SLOs the serving records were measured against, in words."""
    slos = {(r.goodput.slo_ttft_ms, r.goodput.slo_tpot_ms) for r in records if r.mode == "serve" and r.ok and r.goodput}
    described = [" and ".join(part for part in (f"TTFT <= {t:g} ms" if t else "", f"TPOT <= {p:g} ms" if p else "")
                              if part) or "no SLO" for t, p in sorted(slos, key=str)]
    return "; ".join(described) or "no SLO"
