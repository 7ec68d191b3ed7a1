"""The report's sections, in order: each builder takes the report and returns the sections it adds (often none).

SECTION_BUILDERS is the one list of them; records of a new kind get their sections by adding a builder
here, as the serving sections (publish.serving_sections) are added.
"""

from collections.abc import Callable

from tokencost.analysis.pairs import cheapest, hardware_comparison, offline_moe_vs_dense
from tokencost.analysis.sensitivity import sensitivity
from tokencost.analysis.versus_api import THRESHOLD_PER_MTOK_USD, break_even, threshold
from tokencost.pricing.assumptions import INTERCONNECT_KEYS
from tokencost.pricing.split import CACHED_PROBES
from tokencost.pricing.table import node_count
from tokencost.publish import figures, provenance
from tokencost.publish.capacity_sections import capacity_sections
from tokencost.publish.columns import OFFLINE_COMPACT, OFFLINE_HEADERS, cost_table
from tokencost.publish.document import NUMBER_FORMAT, Plot, Report, Section, stated_once
from tokencost.publish.serving_sections import serving_sections
from tokencost.publish.workload_sections import TITLE as WORKLOADS
from tokencost.publish.workload_sections import workload_sections


def _runs(report: Report) -> list[Section]:
    return [
        Section(
            "Runs",
            ["Where the records came from: hardware, models, engines and software of each run."],
            table=provenance.runs_table(report.records),
        )
    ]


def _costs(report: Report) -> list[Section]:
    priced, api = report.offline, report.pricing.api
    if priced.empty:
        return (
            []
            if not report.serving.empty
            else [Section("Cost per million tokens", ["No point was measured successfully."])]
        )
    note = report.methods.caption(priced["label"])
    basis = "; ".join(stated_once(sorted(set(priced["energy_basis"].dropna())))) or "-"
    fabric = ", and the interconnect between nodes" if priced["interconnect_usd_per_h"].gt(0).any() else ""
    return [
        Section(
            "Cost per million tokens",
            [
                (
                    "Throughput and energy are measured over each whole point (batch fill and drain included); the "
                    "steady-state column covers only the time the batch was full with work queued. Energy is measured "
                    f"where its method (Methods, above) says so, otherwise estimated from: {basis}. Dollar figures are "
                    "estimates: measured throughput and power priced with the assumptions below. "
                    f"'x API' compares $/M input+output tokens with {api.display_name} ({api.provider}, ${api.input_per_mtok_usd:g} in "
                    f"/ ${api.output_per_mtok_usd:g} out per M, {api.date}, {api.source}), blended for the workload's "
                    "token mix."
                ),
                (
                    "Input/output split: prefill-probe = the same prompts timed with one output token (prefill only) over "
                    "the point's time; least-squares = time fitted as a x input + b x output tokens across ISL/OSL points "
                    "(3 or more, so its error is measured; with 4 or more also a fixed time per point, the intercept, "
                    "spread over both in proportion; the method says which); whole-hour = not split, each type charged the "
                    "whole hour (InferenceX's convention), also where only 2 points would fit exactly, unverified."
                    + _reuse_note(priced)
                ),
            ],
            **cost_table(priced, OFFLINE_COMPACT, OFFLINE_HEADERS, report.methods),
            plots=[
                Plot(
                    "cost_vs_batch",
                    "Cost vs batch size",
                    f"$ per million tokens against batch size. {note}.",
                    figures.cost_vs_batch(priced, figures.report_palette(report)),
                ),
                Plot(
                    "cost_components",
                    "Hourly cost by component",
                    f"Each point's cost per serving hour, stacked by capital, energy, hosting and rental{fabric}, with "
                    f"each component's share. {note}.",
                    figures.cost_components(priced),
                ),
            ],
        )
    ]


def _reuse_note(priced) -> str:
    """The cost section's words on workloads with reuse, where some point has prefix-cache hits ('' else)."""
    if not (priced["cached_input_tokens"] > 0).any():
        return ""
    return (
        f" {CACHED_PROBES} = the input's uncached and cached tokens each timed by its own prefill probe, and "
        "'x API' prices a point's prefix-cache hits at the API's cached-input price (its input price where it "
        f"publishes none): see '{WORKLOADS}', below."
    )


def _energy(report: Report) -> list[Section]:
    priced = report.offline
    if priced["j_per_output_token"].notna().sum() == 0:
        return []
    return [
        Section(
            "Energy per output token",
            [
                (
                    "Joules per output token over each whole point: all the energy of the point (prefill included) over the "
                    "output tokens it produced."
                )
            ],
            plots=[
                Plot(
                    "energy_vs_batch",
                    "Energy per output token vs batch size",
                    f"Joules per output token against batch size. {report.methods.caption(priced['label'])}.",
                    figures.energy_vs_batch(priced, figures.report_palette(report)),
                )
            ],
        )
    ]


def _moe_vs_dense(report: Report) -> list[Section]:
    comparison = offline_moe_vs_dense(report.offline)
    if comparison.empty:
        return []
    return [
        Section(
            "Dense vs MoE at matched settings",
            [
                (
                    "Each MoE model beside the dense model its card pairs with, on the same hardware and engine at the same "
                    "batch size and lengths. 'MoE / dense cost' below 1 means the MoE model is cheaper per token."
                )
            ],
            table=comparison,
            plots=[
                Plot(
                    "dense_vs_moe",
                    "Dense vs MoE at matched settings",
                    "Each MoE model's $ per million tokens over its dense pair's at the same settings, a point per "
                    "setting around 1 (below 1, the MoE model is cheaper). "
                    f"{report.methods.caption(report.offline['label'])}.",
                    figures.dense_vs_moe_ratios(comparison, report.offline, figures.report_palette(report)),
                )
            ],
        )
    ]


def _gpu_vs_gpu(report: Report) -> list[Section]:
    priced = report.offline
    if priced.empty or priced["hardware"].nunique() < 2:
        return []
    comparison = hardware_comparison(priced)
    if comparison.empty:
        return []
    hardware = [c.removesuffix(" $/M") for c in comparison.columns if c.endswith(" $/M")]
    return [
        Section(
            "GPU vs GPU at matched settings",
            ["$ per million tokens of the same model, engine, batch size and lengths on each hardware (catalog key)."],
            table=comparison,
            plots=[
                Plot(
                    "gpu_vs_gpu",
                    "GPU vs GPU at matched settings",
                    f"$ per million tokens on each hardware, a marker per hardware. {report.methods.caption(priced['label'])}.",
                    figures.hardware_points(comparison, hardware, priced, figures.report_palette(report)),
                )
            ],
        )
    ]


def _roofline(report: Report) -> list[Section]:
    priced = report.offline
    if priced.empty or priced["roofline_output_tok_s"].notna().sum() == 0:
        return []
    return [
        Section(
            "Measured throughput vs the roofline",
            [
                (
                    "The ceiling is estimated per decode step from the weights and KV cache read (bytes over bandwidth) and "
                    "the FLOPs (over peak), whichever takes longer; the 'of roofline' column is measured output tok/s over it."
                )
            ],
            plots=[
                Plot(
                    "roofline",
                    "Measured vs roofline ceiling",
                    "Measured output tok/s against the roofline ceiling: tok/s measured; ceiling estimated from "
                    "bandwidth, FLOPS and the model's shape.",
                    figures.roofline(priced, figures.report_palette(report)),
                )
            ],
        )
    ]


def _break_even(report: Report) -> list[Section]:
    if report.offline.empty:
        return []
    a = report.pricing.assumptions
    table = break_even(report.offline, a)
    title = f"Break-even volume against {report.pricing.api.display_name} (cheapest point per model)"
    if a.billed_only_while_serving:
        how = (
            f"Preset '{a.name}' rents on demand, paid only while serving: every token costs the point's $/M at "
            "any volume, so there is no break-even volume; the verdict compares $/M with the API's price."
        )
    elif a.ownership == "owned":
        how = (
            "The monthly cost is the bill serving at capacity. Capital and hosting are a fixed monthly bill; "
            "below capacity the hardware idles, so the break-even volume charges the hours not serving at the "
            "idle watts, not the busy ones."
        )
    else:
        how = f"Preset '{a.name}' pays its rate for every hour: a fixed monthly bill over the API's price per token."
    return [Section(title, [how], table=table)] if not table.empty else []


def _threshold(report: Report) -> list[Section]:
    if report.offline.empty:
        return []
    table = threshold(report.offline)
    title = f"The ${THRESHOLD_PER_MTOK_USD:.2f} per million tokens threshold"
    return [Section(title, table=table)] if not table.empty else []


def _sensitivity(report: Report) -> list[Section]:
    best, pricing = cheapest(report.offline), report.pricing
    if best is None:
        return []
    table = sensitivity(best.to_dict(), pricing.catalog, pricing.assumptions)
    where = f"{best['model']}, {best['engine']}, batch {best['batch_size']} on {best['hardware']}"
    note = best["label"]
    return [
        Section(
            f"Sensitivity: $/M input+output tokens with each factor moved by {table.attrs['swing']:.0%} "
            f"(base ${table.attrs['base']:{NUMBER_FORMAT}}/M)",
            [f"At the cheapest point ({where}), each factor alone moved down and up, the rest held."],
            table=table,
            plots=[
                Plot(
                    "sensitivity",
                    "Sensitivity of $/M",
                    f"What moves $/M most at {where}. {report.methods.caption([note])}.",
                    figures.tornado(table, f"Sensitivity of $/M at {where}", note),
                )
            ],
        )
    ]


def _assumptions(report: Report) -> list[Section]:
    """The preset's values and sources; the interconnect's only where a multi-node record was priced with them."""
    a = report.pricing.assumptions
    shown = set(type(a).model_fields) - {"description"}
    if not any(node_count(r) > 1 for r in report.records):
        shown -= set(INTERCONNECT_KEYS)
    return [
        Section(
            "Assumptions",
            [f"Preset '{a.name}': {a.description}."],
            bullets=[f"{key} = {getattr(a, key)!r}: {source}" for key, source in a.sources.items() if key in shown],
        )
    ]


def _hardware_figures(report: Report) -> list[Section]:
    by_key = {e.key: e for e in report.pricing.catalog}
    bullets = [
        f"{by_key[key].display_name} ({key}): "
        + "; ".join(f"{name} {v.value:g} ({v.source}, {v.date})" for name, v in by_key[key].figures.items())
        for key in dict.fromkeys([*report.offline["hardware"], *report.serving.get("hardware", [])])
    ]
    return [Section("Hardware figures used", bullets=bullets)]


def _failures(report: Report) -> list[Section]:
    failed = [r for r in report.records if not r.ok]
    if not failed:
        return []
    return [
        Section(
            "Failed points", [f"{len(failed)} point(s) failed: " + "; ".join(f"{r.point}: {r.error}" for r in failed)]
        )
    ]


SECTION_BUILDERS: list[Callable[[Report], list[Section]]] = [
    _runs,
    _costs,
    _energy,
    _moe_vs_dense,
    _gpu_vs_gpu,
    serving_sections,
    capacity_sections,
    workload_sections,
    _roofline,
    _break_even,
    _threshold,
    _sensitivity,
    _assumptions,
    _hardware_figures,
    _failures,
]
