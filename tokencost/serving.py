"""Serving-mode costs: $/M tokens against interactivity, Pareto fronts, and cost at a target interactivity.

Interactivity is 1000 / median TPOT (tokens per second per user), InferenceX's
x axis. A front keeps the points no other point beats on both axes, per
(model, hardware, engine, ISL/OSL); values between front points are
interpolated with a monotone cubic (PCHIP), so the interpolated cost never
turns back between two measured points. InferenceX uses Steffen's monotone
spline; both keep the front's monotonicity and differ slightly in shape.
"""

import textwrap

import numpy as np
import pandas as pd

from tokencost.table import measured_points, price_table

FRONT_GROUP = ["model", "hardware", "engine", "isl", "osl"]
INTERPOLATION = "interpolated along the measured Pareto front (monotone cubic, PCHIP)"

SERVE_COLUMNS = {
    "engine": "engine",
    "model": "model",
    "kind": "kind",
    "load": "load",
    "output_tok_s": "output tok/s",
    "output_tok_s_per_gpu": "output tok/s per GPU",
    "ttft_p50_ms": "TTFT p50 ms",
    "ttft_p99_ms": "TTFT p99 ms",
    "tpot_p50_ms": "TPOT p50 ms",
    "interactivity": "tok/s/user",
    "goodput_share": "within SLO",
    "avg_power_w": "W",
    "j_per_output_token": "J/output token",
    "total_per_mtok_usd": "$/M tokens",
    "on_cost_front": "on front",
    "checks": "validity checks",
    "label": "method",
}


def serve_table(records: list[dict], pricing) -> pd.DataFrame:
    """One priced row per serving point, with per-GPU throughput and front membership."""
    points = measured_points(records, mode="serve")
    priced = price_table(points, pricing.catalog, pricing.assumptions, pricing.api)
    if priced.empty:
        return priced
    priced["output_tok_s_per_gpu"] = priced["output_tok_s"] / priced["accelerator_count"]
    priced["load"] = [f"conc {int(c)}" if pd.notna(c) else f"rate {r:g}/s"
                      for c, r in zip(priced["concurrency"], priced["request_rate"])]
    priced["on_cost_front"] = False
    for _, group in priced.groupby(FRONT_GROUP, dropna=False):
        front = pareto_front(group, "interactivity", "total_per_mtok_usd", higher_y_better=False)
        priced.loc[front.index, "on_cost_front"] = True
    return priced


def pareto_front(points: pd.DataFrame, x: str, y: str, *, higher_y_better: bool) -> pd.DataFrame:
    """The points no other point beats on both axes (higher x is better), sorted by x."""
    valid = points.dropna(subset=[x, y])
    sign = 1 if higher_y_better else -1
    ordered = valid.assign(_y=sign * valid[y]).sort_values([x, "_y"], ascending=[False, False])
    best = -np.inf
    keep = []
    for index, score in ordered["_y"].items():
        if score > best:  # better than every point at a higher or equal x
            keep.append(index)
            best = score
    return valid.loc[keep].sort_values(x)


def value_at(front: pd.DataFrame, x: str, y: str, target: float) -> float:
    """y at `target` along the front, or NaN outside the measured range."""
    from scipy.interpolate import PchipInterpolator

    xs, ys = front[x].to_numpy(dtype=float), front[y].to_numpy(dtype=float)
    if len(xs) == 0 or not xs[0] <= target <= xs[-1]:
        return float("nan")
    if len(xs) == 1:
        return float(ys[0])
    return float(PchipInterpolator(xs, ys)(target))


def at_interactivity(priced: pd.DataFrame, targets: list[float]) -> pd.DataFrame:
    """$/M tokens and output tok/s per GPU at each target interactivity, per front group."""
    rows = []
    for key, group in priced.groupby(FRONT_GROUP, dropna=False):
        cost_front = pareto_front(group, "interactivity", "total_per_mtok_usd", higher_y_better=False)
        tput_front = pareto_front(group, "interactivity", "output_tok_s_per_gpu", higher_y_better=True)
        for target in targets:
            rows.append(dict(zip(FRONT_GROUP, key)) | {
                "tok/s/user": target,
                "$/M tokens": value_at(cost_front, "interactivity", "total_per_mtok_usd", target),
                "output tok/s per GPU": value_at(tput_front, "interactivity", "output_tok_s_per_gpu", target),
                "range measured": f"{cost_front['interactivity'].min():.3g}-{cost_front['interactivity'].max():.3g}",
            })
    return pd.DataFrame(rows)


def dense_vs_moe(priced: pd.DataFrame) -> pd.DataFrame:
    """Each MoE model against its dense pair at the same interactivity, where both fronts reach it."""
    rows = []
    keys = ["hardware", "engine", "isl", "osl"]
    for (model, pair, *key), moe in priced[priced["kind"] == "moe"].groupby(["model", "pairs_with", *keys]):
        dense = priced[(priced["model"] == pair) & (priced[keys] == pd.Series(key, index=keys)).all(axis=1)]
        fronts = [pareto_front(g, "interactivity", "total_per_mtok_usd", higher_y_better=False) for g in (moe, dense)]
        if dense.empty or fronts[1].empty:
            continue
        low = max(f["interactivity"].min() for f in fronts)
        high = min(f["interactivity"].max() for f in fronts)
        for target in sorted({low, (low + high) / 2, high}) if low <= high else []:
            moe_cost, dense_cost = (value_at(f, "interactivity", "total_per_mtok_usd", target) for f in fronts)
            rows.append(dict(zip(keys, key)) | {"MoE": model, "dense": pair, "tok/s/user": target,
                                                "MoE $/M": moe_cost, "dense $/M": dense_cost,
                                                "MoE / dense cost": moe_cost / dense_cost})
    return pd.DataFrame(rows)


def default_targets(priced: pd.DataFrame, count: int = 3) -> list[float]:
    """Round interactivity targets inside the measured range."""
    low, high = priced["interactivity"].min(), priced["interactivity"].max()
    if not np.isfinite(low) or not np.isfinite(high):
        return []
    return sorted({float(f"{v:.2g}") for v in np.linspace(low, high, count + 2)[1:-1]})


def serve_markdown(priced: pd.DataFrame) -> str:
    table = priced[list(SERVE_COLUMNS)].rename(columns=SERVE_COLUMNS)
    return table.to_markdown(index=False, floatfmt=".4g")


def fronts_figure(priced: pd.DataFrame, y: str, ylabel: str, higher_y_better: bool):
    """Every serving point against interactivity, with each group's Pareto front drawn through it."""
    # Plotting imports live in the plotting functions: pricing serving points (price, compare) skips them.
    from matplotlib.figure import Figure

    from tokencost import figures

    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    several_hardware = priced["hardware"].nunique() > 1
    for key, group in priced.groupby(FRONT_GROUP, dropna=False):
        model, hardware, engine, isl, osl = key
        name = f"{model} ({group['kind'].iloc[0]}) {engine}, ISL {isl}/OSL {osl}"
        name += f" on {hardware}" if several_hardware else ""
        dots = ax.scatter(group["interactivity"], group[y], alpha=0.4, s=18)
        front = pareto_front(group, "interactivity", y, higher_y_better=higher_y_better)
        ax.plot(front["interactivity"], front[y], marker="o", color=dots.get_facecolor()[0][:3],
                linestyle="-" if group["kind"].iloc[0] == "dense" else "--", label=name)
        for _, point in front.iterrows():
            ax.annotate(point["load"], (point["interactivity"], point[y]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xlabel("interactivity: tokens/s per user (1000 / median TPOT ms)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} vs interactivity on {', '.join(priced['hardware'].unique())}: Pareto fronts\n"
                 + textwrap.fill(figures.methods(priced), 100), fontsize=8.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def serving_sections(report) -> list:
    """The report's serving section: the table, cost at target interactivities, and the two front plots."""
    from tokencost import figures
    from tokencost.report import Figure as ReportFigure
    from tokencost.report import Section

    priced = report.serving
    if priced.empty:
        return []
    note = figures.methods(priced)
    targets = at_interactivity(priced, default_targets(priced))
    return [
        Section(
            "Serving: cost against interactivity",
            [("Requests through an OpenAI-compatible server, timed by the client: latencies, throughput and "
              "interactivity are measured over each point's measured requests (warm-up excluded). 'within SLO' is "
              f"the share of requests meeting {records_slo(report.records)} (goodput). 'on front' marks the "
              "Pareto-optimal points: no other point is both cheaper and more interactive. Energy and $ as in the "
              "method column.")],
            table=priced[list(SERVE_COLUMNS)].rename(columns=SERVE_COLUMNS),
            figures=[
                ReportFigure("cost_vs_interactivity", "Cost vs interactivity",
                             f"$ per million tokens against tokens/s per user, fronts drawn through the "
                             f"Pareto-optimal points, each labelled with its load. {note}.",
                             fronts_figure(priced, "total_per_mtok_usd", "$ per million tokens", False)),
                ReportFigure("throughput_vs_interactivity", "Throughput per GPU vs interactivity",
                             f"Output tokens/s per GPU (per vCPU on a CPU) against tokens/s per user. {note}.",
                             fronts_figure(priced, "output_tok_s_per_gpu", "output tokens/s per GPU", True)),
            ],
            csv_files={"serve_costs.csv": priced},
        ),
        Section(
            "Serving: cost at a target interactivity",
            [f"$/M tokens and output tok/s per GPU {INTERPOLATION}, per model, hardware, engine and lengths; "
             "estimated, and left blank outside the measured range."],
            table=targets,
        ),
        Section(
            "Serving: dense vs MoE at the same interactivity",
            [f"Each MoE model and the dense model its card pairs with, at interactivities both fronts reach (the "
             f"lowest, middle and highest of the overlap), {INTERPOLATION}; $ estimated from measured points "
             "priced as in the method column. 'MoE / dense cost' below 1 means the MoE model serves users at that "
             "speed more cheaply."],
            table=dense_vs_moe(priced),
        ),
    ]


def records_slo(records: list[dict]) -> str:
    slos = {(r["goodput"].get("slo_ttft_ms"), r["goodput"].get("slo_tpot_ms"))
            for r in records if r.get("mode") == "serve" and r.get("status") == "ok" and r.get("goodput")}
    described = [" and ".join(part for part in (f"TTFT <= {t:g} ms" if t else "", f"TPOT <= {p:g} ms" if p else "")
                              if part) or "no SLO" for t, p in sorted(slos, key=str)]
    return "; ".join(described) or "no SLO"
