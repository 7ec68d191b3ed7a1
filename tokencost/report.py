"""Reports: price one or more runs and publish them as tables (CSV, JSON, Markdown), plots and a web page.

A report is a headline and a list of sections, each a title with paragraphs, a table, bullet points,
figures and CSV files; report.md and index.html render the same sections. SECTION_BUILDERS make them, in
order, from all the records (offline and serving) and the priced offline points; records of another kind
add their sections by adding a builder to that list, as tokencost.serving does for serving mode.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.records import read_records
from tokencost import figures, provenance
from tokencost.compare import THRESHOLD_PER_MTOK_USD, break_even, threshold
from tokencost.sensitivity import sensitivity, tornado
from tokencost.serving import serve_table, serving_sections
from tokencost.table import Pricing

NUMBER_FORMAT = ".4g"  # every number in report.md and index.html

TABLE_COLUMNS = {
    "hardware": "hardware",
    "engine": "engine",
    "model": "model",
    "kind": "kind",
    "batch_size": "batch",
    "output_tok_s": "output tok/s",
    "avg_power_w": "W",
    "roofline_fraction": "of roofline",
    "j_per_output_token": "J/output token",
    "steady_j_per_output_token": "steady-state J/output token",
    "total_per_mtok_usd": "$/M tokens",
    "input_per_mtok_usd": "$/M input",
    "output_per_mtok_usd": "$/M output",
    "split_method": "input/output split",
    "cost_split": "capital / energy / hosting / rental",
    "cost_vs_api": "x API",
    "checks": "validity checks",
    "label": "method",
}

FIGURE_NAMES = ("cost_vs_batch", "energy_vs_batch", "cost_components", "dense_vs_moe", "gpu_vs_gpu", "roofline",
                "sensitivity", "cost_vs_interactivity", "throughput_vs_interactivity")
# Every file a report can write (figures only where their data exist).
OUTPUT_FILES = ("costs.csv", "costs.json", "serve_costs.csv", "report.md", "index.html",
                *(f"{name}.{fmt}" for name in FIGURE_NAMES for fmt in figures.FORMATS))



@dataclass
class Figure:
    name: str  # written as <name>.png and <name>.svg
    title: str
    caption: str  # what it shows, with its method labels and preset
    figure: object  # a matplotlib Figure


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    bullets: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    csv_files: dict[str, pd.DataFrame] = field(default_factory=dict)  # file name -> data written beside the report


@dataclass
class Report:
    records: list[dict]
    priced: pd.DataFrame  # offline points
    pricing: Pricing
    serving: pd.DataFrame = field(default_factory=pd.DataFrame)  # serving-mode points (tokencost.serving)
    sections: list[Section] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return list(dict.fromkeys(r.get("run_id", "?") for r in self.records))

    @property
    def title(self) -> str:
        runs = self.run_ids
        return "Cost per million tokens: " + (f"run {runs[0]}" if len(runs) == 1 else f"{len(runs)} runs")

    def headline(self) -> dict[str, str]:
        """What was measured, on which hardware, when, how it was priced, and the cheapest point."""
        a = self.pricing.assumptions
        return {
            "What": f"{provenance.models(self.records)} on {provenance.engines(self.records)}; "
                    f"{provenance.workloads(self.records)}",
            "Hardware": provenance.hardware(self.records),
            "When": provenance.dates(self.records),
            "Pricing": f"preset '{a.name}' ({a.ownership}; hash {a.hash})",
            "Cheapest point": cheapest_point(self.priced, self.serving),
        }


def cheapest(priced: pd.DataFrame) -> str:
    """The lowest $/M tokens with its point and method label."""
    if priced.empty:
        return "none: no point was measured successfully"
    best = priced.loc[priced["total_per_mtok_usd"].idxmin()]
    return (f"${best['total_per_mtok_usd']:{NUMBER_FORMAT}} per million tokens: {best['model']} ({best['kind']}), "
            f"{best['engine']}, batch {best['batch_size']}, ISL {best['isl']}/OSL {best['osl']}, on {best['hardware']} "
            f"({best['label']})")


def cheapest_point(priced: pd.DataFrame, serving: pd.DataFrame) -> str:
    """The cheapest offline point, or the cheapest serving point of a serving-only run."""
    return cheapest(priced) if not priced.empty or serving.empty else cheapest_serving(serving)


def cheapest_serving(serving: pd.DataFrame) -> str:
    best = serving.loc[serving["total_per_mtok_usd"].idxmin()]
    return (f"${best['total_per_mtok_usd']:{NUMBER_FORMAT}} per million tokens: {best['model']} ({best['kind']}), "
            f"{best['engine']} serving at {best['load']}, {best['interactivity']:{NUMBER_FORMAT}} tok/s/user, "
            f"ISL {best['isl']}/OSL {best['osl']}, on {best['hardware']} ({best['label']})")


def markdown_table(priced: pd.DataFrame) -> str:
    table = priced[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    return table.to_markdown(index=False, floatfmt=NUMBER_FORMAT)


def dense_vs_moe(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE model beside the dense model its card pairs with, at matching hardware, engine, batch and lengths."""
    moe = priced[(priced["kind"] == "moe") & priced["pairs_with"].notna()]
    keys = ["engine", "hardware", "batch_size", "isl", "osl"]
    columns = ["model", *keys, "output_tok_s", "total_per_mtok_usd"]
    merged = moe[columns + ["pairs_with"]].merge(
        priced[columns], left_on=["pairs_with", *keys], right_on=["model", *keys], suffixes=("_moe", "_dense")
    )
    merged["ratio"] = merged["total_per_mtok_usd_moe"] / merged["total_per_mtok_usd_dense"]
    return merged.rename(columns={
        "model_moe": "MoE", "model_dense": "dense", "batch_size": "batch",
        "output_tok_s_moe": "MoE output tok/s", "output_tok_s_dense": "dense output tok/s",
        "total_per_mtok_usd_moe": "MoE $/M", "total_per_mtok_usd_dense": "dense $/M", "ratio": "MoE / dense cost",
    })[["engine", "hardware", "MoE", "dense", "batch", "isl", "osl", "MoE output tok/s", "dense output tok/s",
        "MoE $/M", "dense $/M", "MoE / dense cost"]]


def hardware_comparison(priced: pd.DataFrame) -> pd.DataFrame:
    """$/M of the same model, engine, batch and lengths on each hardware, where more than one hardware ran it."""
    keys = ["model", "engine", "batch_size", "isl", "osl"]
    wide = priced.pivot_table(index=keys, columns="hardware", values="total_per_mtok_usd", aggfunc="first")
    wide = wide[wide.notna().sum(axis=1) > 1]
    wide.columns = [f"{h} $/M" for h in wide.columns]
    return wide.reset_index().rename(columns={"batch_size": "batch"})


# Section builders: each takes the report and returns the sections it adds (often none).

def _runs(report: Report) -> list[Section]:
    return [Section("Runs", ["Where the records came from: hardware, models, engines and software of each run."],
                    table=provenance.runs_table(report.records))]


def _costs(report: Report) -> list[Section]:
    priced, api = report.priced, report.pricing.api
    if priced.empty:
        return [] if not report.serving.empty else [Section("Cost per million tokens",
                                                            ["No point was measured successfully."])]
    note = figures.methods(priced)
    basis = "; ".join(sorted(set(priced["energy_basis"].dropna()))) or "-"
    return [Section(
        "Cost per million tokens",
        [
            ("Throughput and energy are measured over each whole point (batch fill and drain included); the "
             "steady-state column covers only the time the batch was full with work queued. Energy is measured "
             f"where the method column says so, otherwise estimated from: {basis}. Dollar figures are estimates: "
             "measured throughput and power priced with the assumptions below. "
             f"'x API' compares $/M tokens with {api.display_name} ({api.provider}, ${api.input_per_mtok_usd:g} in "
             f"/ ${api.output_per_mtok_usd:g} out per M, {api.date}, {api.source}), blended for the workload's "
             "token mix."),
            ("Input/output split: prefill-probe = the same prompts timed with one output token (prefill only) over "
             "the point's time; least-squares = time fitted as a x input + b x output tokens across ISL/OSL points; "
             "whole-hour = not split, each type charged the whole hour (InferenceX's convention)."),
        ],
        table=priced[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS),
        figures=[
            Figure("cost_vs_batch", "Cost vs batch size", f"$ per million tokens against batch size. {note}.",
                   figures.cost_vs_batch(priced)),
            Figure("cost_components", "Hourly cost by component",
                   f"Each point's cost per serving hour, stacked by capital, energy, hosting and rental, with each "
                   f"component's share. {note}.", figures.cost_components(priced)),
        ],
    )]


def _energy(report: Report) -> list[Section]:
    priced = report.priced
    if priced["j_per_output_token"].notna().sum() == 0:
        return []
    return [Section("Energy per output token", [
        ("Joules per output token over each whole point: all the energy of the point (prefill included) over the "
         "output tokens it produced.")],
        figures=[Figure("energy_vs_batch", "Energy per output token vs batch size",
                        f"Joules per output token against batch size. {figures.methods(priced)}.",
                        figures.energy_vs_batch(priced))])]


def _dense_vs_moe(report: Report) -> list[Section]:
    comparison = dense_vs_moe(report.priced) if not report.priced.empty else pd.DataFrame()
    if comparison.empty:
        return []
    return [Section(
        "Dense vs MoE at matched settings",
        [("Each MoE model beside the dense model its card pairs with, on the same hardware and engine at the same "
          "batch size and lengths. 'MoE / dense cost' below 1 means the MoE model is cheaper per token.")],
        table=comparison,
        figures=[Figure("dense_vs_moe", "Dense vs MoE at matched settings",
                        f"$ per million tokens of each MoE model and its dense pair. {figures.methods(report.priced)}.",
                        figures.dense_vs_moe_bars(comparison, report.priced))],
    )]


def _gpu_vs_gpu(report: Report) -> list[Section]:
    priced = report.priced
    if priced.empty or priced["hardware"].nunique() < 2:
        return []
    comparison = hardware_comparison(priced)
    if comparison.empty:
        return []
    hardware = [c.removesuffix(" $/M") for c in comparison.columns if c.endswith(" $/M")]
    return [Section(
        "GPU vs GPU at matched settings",
        ["$ per million tokens of the same model, engine, batch size and lengths on each hardware (catalog key)."],
        table=comparison,
        figures=[Figure("gpu_vs_gpu", "GPU vs GPU at matched settings",
                        f"$ per million tokens on each hardware. {figures.methods(priced)}.",
                        figures.hardware_bars(comparison, hardware, priced))],
    )]


def _roofline(report: Report) -> list[Section]:
    priced = report.priced
    if priced.empty or priced["roofline_output_tok_s"].notna().sum() == 0:
        return []
    return [Section("Measured throughput vs the roofline", [
        ("The ceiling is estimated per decode step from the weights and KV cache read (bytes over bandwidth) and "
         "the FLOPs (over peak), whichever takes longer; the 'of roofline' column is measured output tok/s over it.")],
        figures=[Figure("roofline", "Measured vs roofline ceiling",
                        "Measured output tok/s against the roofline ceiling: tok/s measured; ceiling estimated from "
                        "bandwidth, FLOPS and the model's shape.", figures.roofline(priced))])]


def _break_even(report: Report) -> list[Section]:
    if report.priced.empty:
        return []
    table = break_even(report.priced, report.pricing.assumptions)
    title = f"Break-even volume against {report.pricing.api.display_name} (cheapest point per model)"
    return [Section(title, table=table)] if not table.empty else []


def _threshold(report: Report) -> list[Section]:
    if report.priced.empty:
        return []
    table = threshold(report.priced)
    title = f"The ${THRESHOLD_PER_MTOK_USD:.2f} per million tokens threshold"
    return [Section(title, table=table)] if not table.empty else []


def _sensitivity(report: Report) -> list[Section]:
    priced, pricing = report.priced, report.pricing
    if priced.empty:
        return []
    best = priced.loc[priced["total_per_mtok_usd"].idxmin()]
    table = sensitivity(best.to_dict(), pricing.catalog, pricing.assumptions)
    where = f"{best['model']}, {best['engine']}, batch {best['batch_size']} on {best['hardware']}"
    note = best["label"]
    return [Section(
        f"Sensitivity: $/M tokens with each factor moved by {table.attrs['swing']:.0%} "
        f"(base ${table.attrs['base']:{NUMBER_FORMAT}}/M)",
        [f"At the cheapest point ({where}), each factor alone moved down and up, the rest held."],
        table=table,
        figures=[Figure("sensitivity", "Sensitivity of $/M", f"What moves $/M most at {where}. {note}.",
                        tornado(table, f"Sensitivity of $/M at {where}", note))],
    )]


def _assumptions(report: Report) -> list[Section]:
    a = report.pricing.assumptions
    return [Section("Assumptions", [f"Preset '{a.name}': {a.description}."], bullets=[
        f"{key} = {getattr(a, key)!r}: {source}" for key, source in a.sources.items()
        if key in type(a).model_fields and key != "description"])]


def _hardware_figures(report: Report) -> list[Section]:
    by_key = {e.key: e for e in report.pricing.catalog}
    bullets = [
        f"{by_key[key].display_name} ({key}): " + "; ".join(
            f"{name} {f.value:g} ({f.source}, {f.date})" for name, f in by_key[key].figures.items())
        for key in dict.fromkeys([*report.priced.get("hardware", []), *report.serving.get("hardware", [])])
    ]
    return [Section("Hardware figures used", bullets=bullets)]


def _failures(report: Report) -> list[Section]:
    failed = [r for r in report.records if r.get("status") != "ok"]
    if not failed:
        return []
    return [Section("Failed points", [f"{len(failed)} point(s) failed: "
                                      + "; ".join(f"{r.get('point')}: {r.get('error')}" for r in failed)])]


SECTION_BUILDERS: list[Callable[[Report], list[Section]]] = [
    _runs, _costs, _energy, _dense_vs_moe, _gpu_vs_gpu, serving_sections, _roofline, _break_even, _threshold, _sensitivity,
    _assumptions, _hardware_figures, _failures,
]


def read_runs(run_dirs: Sequence[Path]) -> list[dict]:
    """The records of several runs; a run given twice is refused rather than counted twice."""
    records, seen = [], {}
    for run_dir in run_dirs:
        run_records = read_records(run_dir)
        for run_id in dict.fromkeys(r.get("run_id") for r in run_records):
            if run_id in seen:
                raise UserError("RUN_DIR", f"{run_dir} and {seen[run_id]} both hold run {run_id}", "give each run once")
            seen[run_id] = run_dir
        records += run_records
    return records


def build_report(records: list[dict], pricing: Pricing) -> Report:
    report = Report(records, pricing.table(records), pricing, serve_table(records, pricing))
    for build in SECTION_BUILDERS:
        report.sections += build(report)
    return report


def write_report(run_dirs: Path | Sequence[Path], pricing: Pricing, out_dir: Path | None = None) -> Report:
    """Price the records of one or more runs; write the tables, report.md, the plots and index.html.

    The output directory defaults to the run directory when there is exactly one.
    """
    run_dirs = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(d) for d in run_dirs]
    if out_dir is None and len(run_dirs) != 1:
        raise ValueError("a report of several runs needs an output directory")
    report = build_report(read_runs(run_dirs), pricing)
    publish(report, Path(out_dir or run_dirs[0]))
    return report


def publish(report: Report, out_dir: Path) -> None:
    from tokencost.html_page import write_page

    out_dir.mkdir(parents=True, exist_ok=True)
    report.priced.to_csv(out_dir / "costs.csv", index=False)
    report.priced.to_json(out_dir / "costs.json", orient="records", indent=1, double_precision=15)
    report.files = [out_dir / "costs.csv", out_dir / "costs.json"]
    for section in report.sections:
        for name, data in section.csv_files.items():
            data.to_csv(out_dir / name, index=False)
            report.files.append(out_dir / name)
        for f in section.figures:
            report.files += figures.save(f.figure, out_dir, f.name)
    (out_dir / "report.md").write_text(markdown(report))
    report.files += [out_dir / "report.md", write_page(report, out_dir)]


def markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", *[f"- {key}: {value}" for key, value in report.headline().items()], ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        if section.table is not None and not section.table.empty:
            lines += [section.table.to_markdown(index=False, floatfmt=NUMBER_FORMAT), ""]
        if section.bullets:
            lines += [f"- {b}" for b in section.bullets] + [""]
        for f in section.figures:
            lines += [f"![{f.title}]({f.name}.png)", "", f"*{f.caption}* ([SVG]({f.name}.svg))", ""]
    return "\n".join(lines)
