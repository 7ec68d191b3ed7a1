"""Reports: cost tables (Markdown, CSV) and a plot of $/M tokens vs batch size."""

from pathlib import Path

import pandas as pd

from bench.records import read_records
from tokencost.assumptions import Assumptions
from tokencost.catalog import load_catalog
from tokencost.pricing import price_points

# Record fields that a cost table needs, under the names the table uses.
POINT_FIELDS = {
    "model.name": "model",
    "model.kind": "kind",
    "model.pairs_with": "pairs_with",
    "model.total_params": "total_params",
    "model.active_params": "active_params",
    "engine.name": "engine",
    "engine.batch_size": "batch_size",
    "workload.isl": "isl",
    "workload.osl": "osl",
    "num_requests": "num_requests",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "duration_s": "duration_s",
    "output_tok_s": "output_tok_s",
    "total_tok_s": "total_tok_s",
    "hardware.accelerator": "accelerator",
    "hardware.accelerator_count": "accelerator_count",
    "energy.method": "energy_method",
    "energy.boundary": "energy_boundary",
    "energy.energy_j": "energy_j",
    "energy.avg_power_w": "avg_power_w",
    "energy.basis": "energy_basis",
}

TABLE_COLUMNS = {
    "model": "model",
    "kind": "kind",
    "batch_size": "batch",
    "output_tok_s": "output tok/s",
    "avg_power_w": "W",
    "j_per_output_token": "J/output token",
    "output_per_mtok_usd": "$/M output tokens",
    "total_per_mtok_usd": "$/M tokens (in+out)",
    "capital_share": "capital share",
    "label": "method",
}

OUTPUT_FILES = ("costs.csv", "report.md", "cost_vs_batch.png")


def measured_points(records: list[dict]) -> pd.DataFrame:
    flat = pd.json_normalize([r for r in records if r.get("status") == "ok"])
    if flat.empty:
        return pd.DataFrame(columns=list(POINT_FIELDS.values()))
    points = flat.reindex(columns=list(POINT_FIELDS)).rename(columns=POINT_FIELDS)
    points["j_per_output_token"] = points["energy_j"] / points["output_tokens"]
    return points


def cost_table(records: list[dict], assumptions: Assumptions) -> pd.DataFrame:
    priced = price_points(measured_points(records), load_catalog(), assumptions)
    priced["label"] = (
        "tok/s measured; energy " + priced["energy_method"].map(_energy_word)
        + " (" + priced["energy_boundary"] + "); $ estimated from '" + priced["assumptions"] + "'"
    )
    return priced.sort_values(["kind", "model", "batch_size"], ignore_index=True)


def _energy_word(method: str) -> str:
    return "estimated" if method == "estimated" else f"measured [{method}]"


def dense_vs_moe(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE model beside the dense model its card pairs with, at matching batch sizes."""
    pairs = priced.dropna(subset=["pairs_with"])
    pairs = pairs[pairs["kind"] == "moe"]
    columns = ["model", "batch_size", "output_tok_s", "output_per_mtok_usd"]
    merged = pairs[columns + ["pairs_with"]].merge(
        priced[columns], left_on=["pairs_with", "batch_size"], right_on=["model", "batch_size"],
        suffixes=("_moe", "_dense"),
    )
    merged["moe_cost_ratio"] = merged["output_per_mtok_usd_moe"] / merged["output_per_mtok_usd_dense"]
    return merged.rename(columns={
        "model_moe": "MoE", "model_dense": "dense", "batch_size": "batch",
        "output_tok_s_moe": "MoE tok/s", "output_tok_s_dense": "dense tok/s",
        "output_per_mtok_usd_moe": "MoE $/M output", "output_per_mtok_usd_dense": "dense $/M output",
        "moe_cost_ratio": "MoE / dense cost",
    })[["MoE", "dense", "batch", "MoE tok/s", "dense tok/s", "MoE $/M output", "dense $/M output", "MoE / dense cost"]]


def markdown_table(priced: pd.DataFrame) -> str:
    table = priced[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    return table.to_markdown(index=False, floatfmt=".4g")


def write_report(run_dir: Path, assumptions: Assumptions, out_dir: Path | None = None) -> pd.DataFrame:
    """Price a run's records and write costs.csv, report.md and cost_vs_batch.png."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_records(run_dir)
    priced = cost_table(records, assumptions)
    priced.to_csv(out_dir / "costs.csv", index=False)
    (out_dir / "report.md").write_text(_report_markdown(records, priced, assumptions))
    plot_cost_vs_batch(priced, out_dir / "cost_vs_batch.png")
    return priced


def _report_markdown(records: list[dict], priced: pd.DataFrame, a: Assumptions) -> str:
    first = records[0] if records else {}
    hardware = first.get("hardware", {})
    failed = [r for r in records if r.get("status") != "ok"]
    lines = [
        f"# Cost per million tokens: run {first.get('run_id', '?')}",
        "",
        f"Hardware: {hardware.get('accelerator', '?')} x {hardware.get('accelerator_count', '?')} "
        f"(CPU: {hardware.get('cpu_model', '?')}). Engine: {first.get('engine', {}).get('name', '?')} "
        f"{first.get('engine', {}).get('version', '')}. Workload: ISL {first.get('workload', {}).get('isl')}, "
        f"OSL {first.get('workload', {}).get('osl')}.",
        "",
        markdown_table(priced),
        "",
        *_comparison_lines(priced),
        "Throughput is measured over each whole point (all requests of the point, wall clock). "
        "Energy is measured where the method says so, otherwise estimated from the stated basis: "
        + "; ".join(sorted(set(priced["energy_basis"].dropna()))) + ".",
        "",
        f"Assumptions '{a.name}' (hash {a.to_record()['hash']}): life {a.life_years:g} years, "
        f"utilisation {a.utilization:g}, cost of capital {a.cost_of_capital:g}, "
        f"${a.usd_per_kwh:g}/kWh, PUE {a.pue:g}, hosting ${a.hosting_usd_per_unit_hour:g}/unit-hour.",
        "",
        *[f"- {k.removesuffix('_source')}: {v}" for k, v in a.sources.items()],
        "",
        "Hardware prices: " + "; ".join(sorted(set(_price_sources(priced)))) + ".",
    ]
    if failed:
        lines += ["", f"{len(failed)} point(s) failed: "
                  + "; ".join(f"{r.get('point')}: {r.get('error')}" for r in failed)]
    return "\n".join(lines) + "\n"


def _comparison_lines(priced: pd.DataFrame) -> list[str]:
    comparison = dense_vs_moe(priced)
    if comparison.empty:
        return []
    return ["Dense vs MoE at the same batch size (measured throughput, same assumptions):", "",
            comparison.to_markdown(index=False, floatfmt=".4g"), ""]


def _price_sources(priced: pd.DataFrame) -> list[str]:
    by_key = {e.key: e for e in load_catalog()}
    return [f"{by_key[k].display_name} ${by_key[k].price_usd:,.1f} ({by_key[k].price_source})"
            for k in priced["hardware"].unique()]


def plot_cost_vs_batch(priced: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (model, kind), group in priced.groupby(["model", "kind"]):
        ax.plot(group["batch_size"], group["output_per_mtok_usd"], marker="o",
                linestyle="-" if kind == "dense" else "--", label=f"{model} ({kind})")
    ax.set_xscale("log", base=2)
    batches = sorted(priced["batch_size"].unique())
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_yscale("log")
    ax.set_xlabel("batch size (concurrent sequences)")
    ax.set_ylabel("$ per million output tokens")
    hardware = ", ".join(priced["accelerator"].unique())
    methods = ", ".join(sorted(set(priced["energy_method"])))
    ax.set_title(f"Cost vs batch on {hardware}\nthroughput measured; energy {methods}; $ estimated", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
