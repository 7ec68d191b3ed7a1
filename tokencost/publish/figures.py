"""The report's plots, as matplotlib figures whose titles carry their method labels and preset."""

import textwrap
from pathlib import Path

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from tokencost.pricing.hourly import COMPONENTS
from tokencost.pricing.serving import WORKLOAD_FRONT_GROUP, pareto_front

FORMATS = ("png", "svg")
DPI = 120
COMPONENT_COLORS = {
    "capital": "tab:blue",
    "energy": "tab:orange",
    "hosting": "tab:green",
    "rental": "tab:purple",
    "interconnect": "tab:red",
}


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


def _lines_vs_batch(priced: pd.DataFrame, column: str, ylabel: str, headline: str, note: str) -> Figure:
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    markers = {"vllm": "o", "transformers": "s"}
    for (hardware, engine, precision, model, kind, isl, osl, workload), group in priced.groupby(
        ["hardware", "engine", "precision", "model", "kind", "isl", "osl", "workload_label"], dropna=False
    ):
        label = f"{model} ({kind}) {engine}{_arm(precision)}, {_workload(isl, osl, workload)}"
        if _several(priced, "hardware"):
            label += f" on {hardware}"
        ax.plot(
            group["batch_size"],
            group[column],
            marker=markers.get(engine, "^"),
            linestyle="-" if kind == "dense" else "--",
            label=label,
        )
    _batch_axis(ax, priced)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    _title(ax, headline, note)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def cost_vs_batch(priced: pd.DataFrame) -> Figure:
    return _lines_vs_batch(
        priced,
        "total_per_mtok_usd",
        "$ per million tokens (input + output)",
        f"Cost vs batch on {', '.join(priced['hardware'].unique())}",
        methods(priced),
    )


def energy_vs_batch(priced: pd.DataFrame) -> Figure:
    return _lines_vs_batch(
        priced,
        "j_per_output_token",
        "joules per output token (whole point)",
        f"Energy per output token vs batch on {', '.join(priced['hardware'].unique())}",
        methods(priced),
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
    ax.set_xlabel("$ per serving hour")
    _title(ax, "Hourly cost of each point by component", methods(priced))
    fig.legend(fontsize=7, loc="outside lower center", ncols=len(used))
    return fig


def _grouped_bars(groups: list[str], bars: dict[str, pd.Series], ylabel: str, headline: str, note: str) -> Figure:
    """Bars side by side for each group, on a log scale (costs span decades)."""
    fig = Figure(figsize=(max(7, 0.45 * len(groups) * len(bars)), 4.8), layout="tight")
    ax = fig.subplots()
    width = 0.8 / len(bars)
    for i, (name, values) in enumerate(bars.items()):
        positions = [g + (i - (len(bars) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(positions, values, width=width, label=name)
    ax.set_xticks(range(len(groups)), groups, fontsize=7, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    _title(ax, headline, note)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def dense_vs_moe_bars(comparison: pd.DataFrame, priced: pd.DataFrame) -> Figure:
    """$/M of each MoE model beside its dense pair, at matched engine, hardware, batch and lengths."""
    several_pairs = (comparison["MoE"] + comparison["dense"]).nunique() > 1
    groups = [
        (f"{row['MoE']} vs {row['dense']} " if several_pairs else "")
        + _point_name(priced, row["engine"], row["batch"], row["hardware"])
        for _, row in comparison.iterrows()
    ]
    pair = "" if several_pairs else f": {comparison['MoE'].iloc[0]} vs {comparison['dense'].iloc[0]}"
    return _grouped_bars(
        groups,
        {"dense": comparison["dense $/M"], "MoE": comparison["MoE $/M"]},
        "$ per million tokens (input + output)",
        f"Dense vs MoE at matched settings{pair}",
        methods(priced),
    )


def hardware_bars(comparison: pd.DataFrame, hardware: list[str], priced: pd.DataFrame) -> Figure:
    """$/M of the same model, engine, batch and lengths on each hardware."""
    groups = [f"{row['model']} {row['engine']} b={row['batch']}" for _, row in comparison.iterrows()]
    bars = {h: comparison[f"{h} $/M"] for h in hardware}
    return _grouped_bars(
        groups,
        bars,
        "$ per million tokens (input + output)",
        f"GPU vs GPU at matched settings: {', '.join(hardware)}",
        methods(priced),
    )


def roofline(priced: pd.DataFrame) -> Figure:
    """Measured output tok/s against the roofline ceiling, over batch size."""
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    for (hardware, model, _isl, _osl, workload), group in priced.groupby(
        ["hardware", "model", "isl", "osl", "workload_label"]
    ):
        name = f"{model} on {hardware}" if _several(priced, "hardware") else model
        name += f" ({workload})" if _several(priced, "workload_label") else ""
        roof = group.drop_duplicates("batch_size")
        (line,) = ax.plot(roof["batch_size"], roof["roofline_output_tok_s"], linestyle=":", label=f"{name} ceiling")
        for engine, measured in group.groupby("engine"):
            ax.plot(
                measured["batch_size"],
                measured["output_tok_s"],
                marker="o" if engine == "vllm" else "s",
                color=line.get_color(),
                linestyle="-" if engine == "vllm" else "--",
                label=f"{name} {engine}",
            )
    _batch_axis(ax, priced)
    ax.set_yscale("log")
    ax.set_ylabel("output tokens per second")
    _title(
        ax,
        f"Measured vs roofline ceiling on {', '.join(priced['hardware'].unique())}",
        "tok/s measured; ceiling estimated from bandwidth, FLOPS and the model's shape",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
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
    ax.set_xlabel("$ per million tokens (input + output)")
    _title(
        ax,
        title,
        f"{note}\nblue: factor -{swing:.0%}, orange: factor +{swing:.0%} (utilization capped at 1, PUE at 1)",
        width=None,
    )
    return fig


def fronts(priced: pd.DataFrame, y: str, ylabel: str, higher_y_better: bool) -> Figure:
    """Every serving point against interactivity, with each group's Pareto front drawn through it."""
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
    for key, group in priced.groupby(WORKLOAD_FRONT_GROUP, dropna=False):
        model, hardware, engine, precision, isl, osl, workload = key
        name = f"{model} ({group['kind'].iloc[0]}) {engine}{_arm(precision)}, {_workload(isl, osl, workload)}"
        name += f" on {hardware}" if several_hardware else ""
        dots = ax.scatter(group["interactivity"], group[y], alpha=0.4, s=18)
        front = pareto_front(group, "interactivity", y, higher_y_better=higher_y_better)
        ax.plot(
            front["interactivity"],
            front[y],
            marker="o",
            # matplotlib types face colours as one colour; a scatter's are an (N, 4) array
            color=dots.get_facecolor()[0][:3],  # type: ignore[index]
            linestyle="-" if group["kind"].iloc[0] == "dense" else "--",
            label=name,
        )
        for _, point in front.iterrows():
            ax.annotate(
                point["load"], (point["interactivity"], point[y]), fontsize=6, xytext=(3, 3), textcoords="offset points"
            )
    ax.set_yscale("log")
    ax.set_xlabel("interactivity: tokens/s per user (1000 / median TPOT ms)")
    ax.set_ylabel(ylabel)
    _title(ax, f"{ylabel} vs interactivity on {', '.join(priced['hardware'].unique())}: Pareto fronts", methods(priced))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


KIND_MARKERS = {"random": "o", "shared-prefix": "s", "multi-turn": "^", "trace": "D", "lengths": "v"}


def cost_vs_hit_rate(points: pd.DataFrame) -> Figure:
    """$/M tokens against the measured prefix-cache hit rate: a colour per model (and mode), a marker per
    workload kind; points without a measured hit rate are left out."""
    measured = points.dropna(subset=["prefix_hit_rate", "total_per_mtok_usd"])
    several_modes = measured["mode"].nunique() > 1
    fig = Figure(figsize=(7, 4.8), layout="tight")
    ax = fig.subplots()
    for (model, mode), group in measured.groupby(["model", "mode"]):
        color = ax.plot([], [], label=f"{model} ({mode})" if several_modes else model)[0].get_color()
        for kind, points_of_kind in group.groupby("workload_kind"):
            ax.scatter(
                100 * points_of_kind["prefix_hit_rate"],
                points_of_kind["total_per_mtok_usd"],
                color=color,
                marker=KIND_MARKERS.get(kind, "P"),
                s=30,
                alpha=0.8,
            )
    for kind in dict.fromkeys(measured["workload_kind"]):
        ax.scatter([], [], color="grey", marker=KIND_MARKERS.get(kind, "P"), label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("prefix-cache hit rate, measured by vLLM's counters (%)")
    ax.set_ylabel("$ per million tokens (input + output)")
    _title(ax, f"Cost vs prefix-cache hit rate on {', '.join(measured['hardware'].unique())}", methods(measured))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig
