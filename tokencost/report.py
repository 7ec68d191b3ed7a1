"""Reports: the priced table (Markdown, CSV), comparisons, and plots for one run."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.records import read_records
from tokencost.api_prices import ApiPrice, find_api
from tokencost.assumptions import Assumptions
from tokencost.catalog import HardwareEntry
from tokencost.compare import THRESHOLD_PER_MTOK_USD, break_even, threshold
from tokencost.sensitivity import plot_tornado, sensitivity
from tokencost.table import measured_points, price_table

TABLE_COLUMNS = {
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

OUTPUT_FILES = ("costs.csv", "report.md", "cost_vs_batch.png", "roofline.png", "sensitivity.png")


@dataclass
class Pricing:
    """Everything that turns records into money, chosen once per command."""

    assumptions: Assumptions
    catalog: list[HardwareEntry]
    api: ApiPrice

    @classmethod
    def of(cls, assumptions: Assumptions, catalog: list[HardwareEntry], api_key: str | None = None):
        return cls(assumptions, catalog, find_api(api_key or assumptions.api))

    def table(self, records: list[dict]) -> pd.DataFrame:
        priced = price_table(measured_points(records), self.catalog, self.assumptions, self.api)
        priced["cost_split"] = priced.apply(_cost_split, axis=1) if not priced.empty else pd.Series(dtype=object)
        return priced


def _cost_split(row) -> str:
    return " / ".join(f"{row[f'{c}_share']:.0%}" for c in ("capital", "energy", "hosting", "rental"))


def markdown_table(priced: pd.DataFrame) -> str:
    table = priced[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    return table.to_markdown(index=False, floatfmt=".4g")


def dense_vs_moe(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE model beside the dense model its card pairs with, at matching batch and lengths."""
    moe = priced[(priced["kind"] == "moe") & priced["pairs_with"].notna()]
    keys = ["engine", "batch_size", "isl", "osl"]
    columns = ["model", *keys, "output_tok_s", "total_per_mtok_usd"]
    merged = moe[columns + ["pairs_with"]].merge(
        priced[columns], left_on=["pairs_with", *keys], right_on=["model", *keys], suffixes=("_moe", "_dense")
    )
    merged["ratio"] = merged["total_per_mtok_usd_moe"] / merged["total_per_mtok_usd_dense"]
    return merged.rename(columns={
        "model_moe": "MoE", "model_dense": "dense", "batch_size": "batch",
        "output_tok_s_moe": "MoE output tok/s", "output_tok_s_dense": "dense output tok/s",
        "total_per_mtok_usd_moe": "MoE $/M", "total_per_mtok_usd_dense": "dense $/M", "ratio": "MoE / dense cost",
    })[["engine", "MoE", "dense", "batch", "isl", "osl", "MoE output tok/s", "dense output tok/s", "MoE $/M", "dense $/M",
        "MoE / dense cost"]]


def write_report(run_dir: Path, pricing: Pricing, out_dir: Path | None = None) -> pd.DataFrame:
    """Price a run's records and write the table, the report and the plots."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_records(run_dir)
    priced = pricing.table(records)
    priced.to_csv(out_dir / "costs.csv", index=False)
    sensitivity_table = None
    if not priced.empty:
        plot_cost_vs_batch(priced, out_dir / "cost_vs_batch.png")
        plot_roofline(priced, out_dir / "roofline.png")
        cheapest = priced.loc[priced["total_per_mtok_usd"].idxmin()]
        sensitivity_table = sensitivity(cheapest.to_dict(), pricing.catalog, pricing.assumptions)
        plot_tornado(sensitivity_table, f"Sensitivity of $/M at {cheapest['model']}, batch {cheapest['batch_size']}",
                     out_dir / "sensitivity.png")
    (out_dir / "report.md").write_text(report_markdown(records, priced, pricing, sensitivity_table))
    return priced


def report_markdown(records: list[dict], priced: pd.DataFrame, pricing: Pricing, sensitivity_table) -> str:
    a, api = pricing.assumptions, pricing.api
    first = records[0] if records else {}
    hardware, workload = (first.get(k, {}) for k in ("hardware", "workload"))
    lines = [
        f"# Cost per million tokens: run {first.get('run_id', '?')}",
        "",
        f"Hardware: {hardware.get('accelerator', '?')} x {hardware.get('accelerator_count', '?')}. "
        f"Engines: {_engines(records)}. "
        f"Workload: ISL {workload.get('isl')}, OSL {workload.get('osl')}. "
        f"Pricing: preset '{a.name}' ({a.ownership}; hash {a.hash}).",
        "",
        markdown_table(priced) if not priced.empty else "No point was measured successfully.",
        "",
        "Throughput and energy are measured over each whole point (batch fill and drain included); the "
        "steady-state column covers only the time the batch was full with work queued. Energy is measured "
        "where the method column says so, "
        "otherwise estimated from: " + ("; ".join(sorted(set(priced["energy_basis"].dropna()))) or "-") + ". "
        "Dollar figures are estimates: measured throughput and power priced with the assumptions below. "
        f"'x API' compares $/M tokens with {api.display_name} ({api.provider}, ${api.input_per_mtok_usd:g} in / "
        f"${api.output_per_mtok_usd:g} out per M, {api.date}, {api.source}), blended for the workload's token mix.",
        "",
        "Input/output split: prefill-probe = the same prompts timed with one output token (prefill only) over "
        "the point's time; least-squares = time fitted as a x input + b x output tokens across ISL/OSL points; "
        "whole-hour = not split, each type charged the whole hour (InferenceX's convention).",
        "",
    ]
    if not priced.empty:
        lines += _section("Dense vs MoE at matched settings", dense_vs_moe(priced))
        lines += _section(f"Break-even volume against {api.display_name} (cheapest point per model)", break_even(priced, a))
        lines += _section(f"The ${THRESHOLD_PER_MTOK_USD:.2f} per million tokens threshold", threshold(priced))
        lines += _section(
            f"Sensitivity: $/M tokens with each factor moved by {sensitivity_table.attrs['swing']:.0%} "
            f"(base ${sensitivity_table.attrs['base']:.4g}/M)", sensitivity_table,
        )
    lines += [
        "## Assumptions",
        "",
        f"Preset '{a.name}': {a.description}.",
        "",
        *[f"- {key} = {getattr(a, key)!r}: {source}" for key, source in a.sources.items()
          if key in type(a).model_fields and key not in ("description",)],
        "",
        "## Hardware figures used",
        "",
        *_hardware_lines(priced, pricing.catalog),
    ]
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        lines += ["", f"{len(failed)} point(s) failed: " + "; ".join(f"{r.get('point')}: {r.get('error')}" for r in failed)]
    return "\n".join(lines) + "\n"


def _engines(records: list[dict]) -> str:
    versions = {(r["engine"].get("name"), r["engine"].get("version")) for r in records if r.get("status") == "ok"}
    return ", ".join(f"{name} {version}" for name, version in sorted(versions)) or "?"


def _section(title: str, table: pd.DataFrame) -> list[str]:
    if table.empty:
        return []
    return [f"## {title}", "", table.to_markdown(index=False, floatfmt=".4g"), ""]


def _hardware_lines(priced: pd.DataFrame, catalog: list[HardwareEntry]) -> list[str]:
    by_key = {e.key: e for e in catalog}
    lines = []
    for key in priced["hardware"].unique() if not priced.empty else []:
        entry = by_key[key]
        lines += [f"- {entry.display_name} ({key}): " + "; ".join(
            f"{name} {f.value:g} ({f.source}, {f.date})" for name, f in entry.figures.items())]
    return lines


def plot_roofline(priced: pd.DataFrame, path: Path) -> None:
    """Measured output tok/s against the roofline ceiling, over batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (model, isl, osl), group in priced.groupby(["model", "isl", "osl"]):
        roof = group.drop_duplicates("batch_size")
        line, = ax.plot(roof["batch_size"], roof["roofline_output_tok_s"], linestyle=":", label=f"{model} ceiling")
        for engine, measured in group.groupby("engine"):
            ax.plot(measured["batch_size"], measured["output_tok_s"], marker="o" if engine == "vllm" else "s",
                    color=line.get_color(), linestyle="-" if engine == "vllm" else "--", label=f"{model} {engine}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    batches = sorted(priced["batch_size"].unique())
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_xlabel("batch size (concurrent sequences)")
    ax.set_ylabel("output tokens per second")
    ax.set_title(f"Measured vs roofline ceiling on {', '.join(priced['hardware'].unique())}\n"
                 "ceiling: estimated from bandwidth, FLOPS and the model's shape", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cost_vs_batch(priced: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"vllm": "o", "transformers": "s"}
    for (engine, model, kind, isl, osl), group in priced.groupby(["engine", "model", "kind", "isl", "osl"]):
        ax.plot(group["batch_size"], group["total_per_mtok_usd"], marker=markers.get(engine, "^"),
                linestyle="-" if kind == "dense" else "--", label=f"{model} ({kind}) {engine}, ISL {isl}/OSL {osl}")
    ax.set_xscale("log", base=2)
    batches = sorted(priced["batch_size"].unique())
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_yscale("log")
    ax.set_xlabel("batch size (concurrent sequences)")
    ax.set_ylabel("$ per million tokens (input + output)")
    hardware = ", ".join(priced["hardware"].unique())
    methods = ", ".join(sorted(set(priced["energy_method"])))
    ax.set_title(f"Cost vs batch on {hardware}, preset '{priced['assumptions'].iloc[0]}'\n"
                 f"throughput measured; energy {methods}; $ estimated", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
