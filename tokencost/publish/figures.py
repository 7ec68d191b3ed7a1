"""The report's plots, as matplotlib figures whose titles carry their method labels and preset.

The rules every plot keeps: no bars on a log axis (ratios are points around 1 on a symmetric axis); every
encoding is stated (in the legend, its title or the plot's title); one colour per model across every plot of a
page (`palette`, shared by the report); every legend entry is drawn; money axes tick in plain dollars, never
powers of ten; and throughput is per GPU, or per vCPU on a CPU, as the points were priced.
"""

import math
import textwrap
from pathlib import Path

import pandas as pd
from matplotlib import colormaps, rc_context
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatter, NullLocator

from tokencost.pricing.capacity import unit_name
from tokencost.pricing.hourly import COMPONENTS
from tokencost.pricing.serving import WORKLOAD_FRONT_GROUP, pareto_front
from tokencost.publish.document import Report, number

FORMATS = ("png", "svg")
DPI = 120
COMPONENT_COLORS = {
    "capital": "tab:blue",
    "energy": "tab:orange",
    "hosting": "tab:green",
    "rental": "tab:purple",
    "interconnect": "tab:red",
}


LINE_STYLES = ("-", "--", ":", "-.")
ENGINE_MARKERS = {"vllm": "o", "transformers": "s"}
HARDWARE_MARKERS = ("o", "s", "^", "D", "v", "P")
# Ticks of a ratio axis, symmetric about 1 on its log-2 scale where the pairs are (0.8 and 1.25, 0.5 and 2, ...).
RATIO_TICKS = (1 / 16, 1 / 8, 0.25, 0.5, 2 / 3, 0.8, 1, 1.25, 1.5, 2, 4, 8, 16)
Palette = dict[str, tuple[float, float, float, float]]


def model_palette(*tables: pd.DataFrame) -> Palette:
    """One colour per model, the models of all `tables` in name order: a page draws every plot with one palette,
    so a model keeps its colour from plot to plot."""
    models = sorted({str(m) for table in tables if "model" in table for m in table["model"].dropna()})
    colours = colormaps["tab10" if len(models) <= 10 else "tab20"].colors  # type: ignore[attr-defined]
    return {model: (*colours[i % len(colours)][:3], 1.0) for i, model in enumerate(models)}


def report_palette(report: Report) -> Palette:
    """The palette of every plot of a report: its models, offline and serving, in name order."""
    return model_palette(report.offline, report.serving)


class _PlainLogFormatter(LogFormatter):
    """Log-axis ticks as plain numbers ("0.0001", "$0.02"), never powers of ten; which ticks carry a label is
    matplotlib's own choice (decades, and minor ticks where the axis spans little)."""

    def __init__(self, prefix: str = ""):
        super().__init__(labelOnlyBase=False)
        self.prefix = prefix

    def _num_to_string(self, x, vmin, vmax):
        return self.prefix + number(x, 3)


def dollars(value: float, _position=None) -> str:
    return ("-$" if value < 0 else "$") + number(abs(value), 3)


def _plain_ticks(axis: Axis, log: bool, prefix: str = "") -> None:
    """Plain tick labels on `axis`: dollars with prefix '$'; set after the axis's scale, which resets them."""
    if log:
        axis.set_major_formatter(_PlainLogFormatter(prefix))
        axis.set_minor_formatter(_PlainLogFormatter(prefix))
    else:
        axis.set_major_formatter(FuncFormatter(dollars) if prefix == "$" else FuncFormatter(lambda v, _: number(v, 3)))


def per_unit(priced: pd.DataFrame) -> str:
    """What throughput is counted per, as the points were priced: 'GPU', 'vCPU', or both where the table holds both."""
    units = {
        unit_name(accelerator, hardware).removesuffix("s")
        for accelerator, hardware in zip(priced.get("accelerator", [None] * len(priced)), priced["hardware"])
    }
    return " or ".join(sorted(units)) or "GPU"


def _style(index: int) -> str:
    return LINE_STYLES[index % len(LINE_STYLES)]


def save(figure: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write a figure as <name>.png and <name>.svg; the SVG is byte-for-byte reproducible."""
    paths = [Path(out_dir) / f"{name}.{fmt}" for fmt in FORMATS]
    with rc_context({"svg.hashsalt": name}):
        for path, fmt in zip(paths, FORMATS):
            figure.savefig(path, dpi=DPI, metadata={"Date": None} if fmt == "svg" else None)
    return paths


def methods(priced: pd.DataFrame) -> str:
    """The method labels of the points, each naming its preset, e.g.
    "tok/s measured; energy estimated (cpu); $ estimated from 'owned'"."""
    return " | ".join(sorted(priced["label"].dropna().unique()))


def _title(ax, headline: str, note: str, width: int | None = 100) -> None:
    """A plot's title: its headline, then its method labels and preset (wrapped at `width` characters)."""
    ax.set_title(headline + "\n" + (textwrap.fill(note, width) if width else note), fontsize=8.5)


def _several(priced: pd.DataFrame, column: str) -> bool:
    return priced[column].nunique() > 1


def _batch_axis(ax, priced: pd.DataFrame) -> None:
    ax.set_xscale("log", base=2)
    batches = sorted(priced["batch_size"].unique())
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_xlabel("batch size (concurrent sequences)")


def _point_name(priced: pd.DataFrame, engine: str, batch, hardware: str, model: str = "") -> str:
    """A short name for a point, with the hardware when the table has several."""
    name = f"{model} {engine} b={batch}".strip()
    return f"{name} [{hardware}]" if _several(priced, "hardware") else name


def _workload(isl, osl, label) -> str:
    """A line's workload in words: its lengths for random (as before workloads had kinds), else its label."""
    return f"ISL {isl}/OSL {osl}" if str(label).startswith("random ") else str(label)


def _arm(precision) -> str:
    """A line's precision in its legend: nothing for bf16 (or a record that does not say), else its name."""
    return "" if not isinstance(precision, str) or precision == "bf16" else f" {precision}"


def _lines_vs_batch(
    priced: pd.DataFrame, column: str, ylabel: str, headline: str, note: str, palette: Palette | None, money: bool
) -> Figure:
    """One line per model, engine, hardware, precision and lengths: colour the model's, marker the engine's, line
    style the rest (hardware, precision, workload), each stated in the legend's title and its labels."""
    palette = palette or model_palette(priced)
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    rest = ["hardware", "precision", "isl", "osl", "workload_label"]
    styles = {
        key: _style(i) for i, key in enumerate(priced[rest].astype(str).drop_duplicates().itertuples(index=False))
    }
    for (hardware, engine, precision, model, kind, isl, osl, workload), group in priced.groupby(
        ["hardware", "engine", "precision", "model", "kind", "isl", "osl", "workload_label"], dropna=False
    ):
        label = f"{model} ({kind}) {engine}{_arm(precision)}, {_workload(isl, osl, workload)}"
        if _several(priced, "hardware"):
            label += f" on {hardware}"
        key = tuple(str(v) for v in (hardware, precision, isl, osl, workload))
        ax.plot(
            group["batch_size"],
            group[column],
            marker=ENGINE_MARKERS.get(engine, "^"),
            color=palette.get(model),
            linestyle=styles.get(key, "-"),
            label=label,
        )
    _batch_axis(ax, priced)
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis, log=True, prefix="$" if money else "")
    ax.set_ylabel(ylabel)
    _title(ax, headline, note)
    ax.grid(True, which="both", alpha=0.3)
    legend_title = "colour: model; marker: engine" + ("; line style: hardware, lengths" if len(styles) > 1 else "")
    ax.legend(fontsize=7, title=legend_title, title_fontsize=7)
    return fig


def cost_vs_batch(priced: pd.DataFrame, palette: Palette | None = None) -> Figure:
    return _lines_vs_batch(
        priced,
        "total_per_mtok_usd",
        "$ per million tokens (input + output)",
        f"Cost vs batch on {', '.join(priced['hardware'].unique())}",
        methods(priced),
        palette,
        money=True,
    )


def energy_vs_batch(priced: pd.DataFrame, palette: Palette | None = None) -> Figure:
    return _lines_vs_batch(
        priced,
        "j_per_output_token",
        "joules per output token (whole point)",
        f"Energy per output token vs batch on {', '.join(priced['hardware'].unique())}",
        methods(priced),
        palette,
        money=False,
    )


def cost_components(priced: pd.DataFrame) -> Figure:
    """Each point's hourly cost, stacked by component, with each component's share written beside it."""
    points = priced.iloc[::-1].reset_index(drop=True)
    used = [c for c in COMPONENTS if points[f"{c}_usd_per_h"].fillna(0).gt(0).any()]
    fig = Figure(figsize=(7, 1.9 + 0.28 * len(points)), layout="constrained")
    ax = fig.subplots()
    left = pd.Series(0.0, index=points.index)
    for c in used:
        ax.barh(points.index, points[f"{c}_usd_per_h"], left=left, color=COMPONENT_COLORS[c], label=c)
        left += points[f"{c}_usd_per_h"].fillna(0)
    for y, row in points.iterrows():
        shares = ", ".join(f"{c} {row[f'{c}_share']:.0%}" for c in used)
        ax.text(left[y], y, f"  {shares}", va="center", fontsize=6.5)
    ax.set_yticks(
        points.index,
        [
            _point_name(priced, row["engine"], row["batch_size"], row["hardware"], row["model"])
            for _, row in points.iterrows()
        ],
        fontsize=7,
    )
    ax.set_xlim(0, left.max() * 1.45)
    _plain_ticks(ax.xaxis, log=False, prefix="$")
    ax.set_xlabel("$ per serving hour")
    _title(ax, "Hourly cost of each point by component", methods(priced))
    fig.legend(fontsize=7, loc="outside lower center", ncols=len(used))
    return fig


def dense_vs_moe_ratios(comparison: pd.DataFrame, priced: pd.DataFrame, palette: Palette | None = None) -> Figure:
    """Each matched setting's MoE $/M over its dense pair's, as a point around 1 on a log-2 axis (symmetric: half
    and twice the cost lie equally far from 1), coloured by the MoE model."""
    palette = palette or model_palette(priced)
    several_pairs = (comparison["MoE"] + comparison["dense"]).nunique() > 1
    groups = [
        (f"{row['MoE']} vs {row['dense']} " if several_pairs else "")
        + _point_name(priced, row["engine"], row["batch"], row["hardware"])
        for _, row in comparison.iterrows()
    ]
    ratios = comparison["MoE / dense cost"].astype(float)
    fig = Figure(figsize=(max(7, 0.45 * len(groups)), 4.8), layout="tight")
    ax = fig.subplots()
    ax.axhline(1, color="black", linewidth=0.8)
    for moe, rows in comparison.assign(position=range(len(comparison))).groupby("MoE", sort=True):
        pairs = ", ".join(sorted(set(rows["dense"])))
        ax.plot(
            rows["position"],
            rows["MoE / dense cost"],
            linestyle="none",
            marker="o",
            color=palette.get(moe),
            label=f"{moe} over {pairs}",
        )
    ax.set_yscale("log", base=2)
    reach = max(abs(math.log2(r)) for r in ratios if r > 0) if (ratios > 0).any() else 0.0
    reach = max(reach * 1.15, math.log2(1.25))
    ax.set_ylim(2**-reach, 2**reach)
    ax.yaxis.set_major_locator(FixedLocator([r for r in RATIO_TICKS if 2**-reach <= r <= 2**reach]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{number(v, 3)}x"))
    ax.set_xticks(range(len(groups)), groups, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("MoE cost per token over dense (below 1: MoE cheaper)")
    pair = "" if several_pairs else f": {comparison['MoE'].iloc[0]} vs {comparison['dense'].iloc[0]}"
    _title(ax, f"Dense vs MoE at matched settings{pair}", methods(priced))
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, title="colour: MoE model; one point per matched setting", title_fontsize=7)
    return fig


def hardware_points(
    comparison: pd.DataFrame, hardware: list[str], priced: pd.DataFrame, palette: Palette | None = None
) -> Figure:
    """$/M of the same model, engine, batch and lengths on each hardware: points (a marker per hardware, the
    model's colour) on a log axis with dollar ticks."""
    palette = palette or model_palette(priced)
    groups = [f"{row['model']} {row['engine']} b={row['batch']}" for _, row in comparison.iterrows()]
    fig = Figure(figsize=(max(7, 0.45 * len(groups)), 4.8), layout="tight")
    ax = fig.subplots()
    for i, h in enumerate(hardware):
        marker = HARDWARE_MARKERS[i % len(HARDWARE_MARKERS)]
        ax.scatter(
            range(len(groups)),
            comparison[f"{h} $/M"],
            marker=marker,
            color=[palette.get(m) for m in comparison["model"]],
        )
        ax.scatter([], [], marker=marker, color="grey", label=h)
    for model in dict.fromkeys(comparison["model"]):
        ax.plot([], [], linestyle="none", marker="o", color=palette.get(model), label=model)
    ax.set_xticks(range(len(groups)), groups, fontsize=7, rotation=30, ha="right")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis, log=True, prefix="$")
    ax.set_ylabel("$ per million tokens (input + output)")
    _title(ax, f"GPU vs GPU at matched settings: {', '.join(hardware)}", methods(priced))
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, title="marker: hardware; colour: model", title_fontsize=7)
    return fig


def roofline(priced: pd.DataFrame, palette: Palette | None = None) -> Figure:
    """Measured output tok/s against the roofline ceiling, over batch size: the model's colour, the ceiling
    dotted, each engine its marker."""
    palette = palette or model_palette(priced)
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    keys = priced[["hardware", "isl", "osl", "workload_label"]].astype(str).drop_duplicates()
    styles = {key: _style(i + 1) for i, key in enumerate(keys.itertuples(index=False))}
    for (hardware, model, isl, osl, workload), group in priced.groupby(
        ["hardware", "model", "isl", "osl", "workload_label"]
    ):
        name = f"{model} on {hardware}" if _several(priced, "hardware") else model
        name += f" ({workload})" if _several(priced, "workload_label") else ""
        roof = group.drop_duplicates("batch_size")
        colour = palette.get(model)
        ax.plot(roof["batch_size"], roof["roofline_output_tok_s"], linestyle=":", color=colour, label=f"{name} ceiling")
        for engine, measured in group.groupby("engine"):
            ax.plot(
                measured["batch_size"],
                measured["output_tok_s"],
                marker=ENGINE_MARKERS.get(engine, "^"),
                color=colour,
                linestyle="-" if len(styles) == 1 else styles[tuple(str(v) for v in (hardware, isl, osl, workload))],
                label=f"{name} {engine}",
            )
    _batch_axis(ax, priced)
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis, log=True)
    ax.set_ylabel("output tokens per second")
    _title(
        ax,
        f"Measured vs roofline ceiling on {', '.join(priced['hardware'].unique())}",
        "tok/s measured; ceiling estimated from bandwidth, FLOPS and the model's shape",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, title="colour: model; dotted: ceiling; marker: engine", title_fontsize=7)
    return fig


def tornado(table: pd.DataFrame, title: str, note: str) -> Figure:
    """A sensitivity table (tokencost.analysis.sensitivity) as a tornado plot; `note` gives the method labels
    and preset."""
    base, swing = table.attrs["base"], table.attrs["swing"]
    ordered = table.iloc[::-1]
    fig = Figure(figsize=(7, 4), layout="tight")
    ax = fig.subplots()
    for y, row in enumerate(ordered.itertuples()):
        ax.barh(y, row.at_minus - base, left=base, color="tab:blue")
        ax.barh(y, row.at_plus - base, left=base, color="tab:orange")
    ax.set_yticks(range(len(ordered)), ordered["factor"])
    ax.axvline(base, color="black", linewidth=0.8)
    _plain_ticks(ax.xaxis, log=False, prefix="$")
    ax.set_xlabel("$ per million tokens (input + output)")
    _title(
        ax,
        title,
        f"{note}\nblue: factor -{swing:.0%}, orange: factor +{swing:.0%} (utilization capped at 1, PUE at 1)",
        width=None,
    )
    return fig


def fronts(priced: pd.DataFrame, y: str, ylabel: str, higher_y_better: bool, palette: Palette | None = None) -> Figure:
    """Every serving point against interactivity, faint, with each group's Pareto front drawn through it: the
    model's colour, a line style per group within the model, each front point labelled with its load."""
    palette = palette or model_palette(priced)
    money = y == "total_per_mtok_usd"
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    several_hardware = _several(priced, "hardware")
    # A point whose tokens all reached the client in one read has no TPOT, so no interactivity to place it by.
    placed = priced[(priced["interactivity"] > 0) & (priced[y] > 0)]
    if placed.empty:
        ax.text(
            0.5,
            0.5,
            "no serving point has a measured interactivity\n(every request's tokens arrived at once)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        _title(ax, f"{ylabel} vs interactivity", methods(priced))
        return fig
    priced = placed
    seen: dict[str, int] = {}
    for key, group in priced.groupby(WORKLOAD_FRONT_GROUP, dropna=False):
        model, hardware, engine, precision, isl, osl, workload = key
        name = f"{model} ({group['kind'].iloc[0]}) {engine}{_arm(precision)}, {_workload(isl, osl, workload)}"
        name += f" on {hardware}" if several_hardware else ""
        colour = palette.get(model)
        ax.scatter(group["interactivity"], group[y], alpha=0.35, s=18, color=colour)
        front = pareto_front(group, "interactivity", y, higher_y_better=higher_y_better)
        seen[model] = seen.get(model, -1) + 1
        ax.plot(front["interactivity"], front[y], marker="o", color=colour, linestyle=_style(seen[model]), label=name)
        for _, point in front.iterrows():
            ax.annotate(
                point["load"], (point["interactivity"], point[y]), fontsize=6, xytext=(3, 3), textcoords="offset points"
            )
    ax.scatter([], [], alpha=0.35, s=18, color="grey", label="every measured point (faint)")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis, log=True, prefix="$" if money else "")
    ax.set_xlabel("interactivity: tokens/s per user (1000 / median TPOT ms)")
    ax.set_ylabel(ylabel)
    _title(ax, f"{ylabel} vs interactivity on {', '.join(priced['hardware'].unique())}: Pareto fronts", methods(priced))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, title="colour: model; line: its Pareto front; labels: load", title_fontsize=7)
    return fig


KIND_MARKERS = {"random": "o", "shared-prefix": "s", "multi-turn": "^", "trace": "D", "lengths": "v"}


def cost_vs_hit_rate(points: pd.DataFrame, palette: Palette | None = None) -> Figure:
    """$/M tokens against the measured prefix-cache hit rate, like against like: one line per model and batch size
    (or serving load), through its workloads in order of hit rate; the model's colour, a line style per batch, a
    marker per workload kind. Points without a measured hit rate are left out."""
    palette = palette or model_palette(points)
    measured = points.dropna(subset=["prefix_hit_rate", "total_per_mtok_usd"])
    if "at" not in measured:
        measured = measured.assign(at="batch " + measured["batch_size"].map(lambda b: f"{b:g}"))
    several_modes = measured["mode"].nunique() > 1
    styles = {at: _style(i) for i, at in enumerate(dict.fromkeys(sorted(measured["at"].astype(str), key=_load_order)))}
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    for (model, mode, at), group in measured.groupby(["model", "mode", "at"]):
        group = group.sort_values("prefix_hit_rate")
        name = f"{model} ({mode}), {at}" if several_modes else f"{model}, {at}"
        colour = palette.get(model)
        ax.plot(
            100 * group["prefix_hit_rate"],
            group["total_per_mtok_usd"],
            color=colour,
            linestyle=styles[str(at)],
            label=name,
        )
        for kind, points_of_kind in group.groupby("workload_kind"):
            ax.scatter(
                100 * points_of_kind["prefix_hit_rate"],
                points_of_kind["total_per_mtok_usd"],
                color=colour,
                marker=KIND_MARKERS.get(kind, "P"),
                s=30,
                zorder=3,
            )
    for kind in dict.fromkeys(measured["workload_kind"]):
        ax.scatter([], [], color="grey", marker=KIND_MARKERS.get(kind, "P"), label=f"marker: {kind}")
    ax.set_yscale("log")
    _plain_ticks(ax.yaxis, log=True, prefix="$")
    ax.set_xlabel("prefix-cache hit rate, measured by vLLM's counters (%)")
    ax.set_ylabel("$ per million tokens (input + output)")
    _title(
        ax,
        f"Cost vs prefix-cache hit rate on {', '.join(measured['hardware'].unique())}: one line per model and batch",
        methods(measured),
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, title="colour: model; line style: batch or load; marker: workload", title_fontsize=7)
    return fig


def _load_order(at: str) -> tuple[str, float]:
    """'batch 4' before 'batch 16'; 'conc 4' before 'conc 16'."""
    words = at.rsplit(" ", 1)
    try:
        return words[0], float(words[-1].rstrip("/s"))
    except ValueError:
        return at, math.inf
