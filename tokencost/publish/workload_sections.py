"""The report's section on workloads with reuse: prefix-cache hit rates, cached and uncached input priced apart,
each point beside the random floor at the same model, hardware, engine and batch size (or load)."""

import numpy as np
import pandas as pd

from tokencost.pricing.api_prices import cached_input_price
from tokencost.publish import figures
from tokencost.publish.columns import METHOD, Column, compact_view, has_reuse, percent
from tokencost.publish.document import Plot, Report, Section, number

TITLE = "Workloads and prefix caching"
GAP_FLAG = 0.15  # measured and implied hit rates further apart than this are flagged
DASH = "—"
# A point and its random floor match on all of these (`at`: the batch size offline, the load serving).
FLOOR_KEYS = ["mode", "model", "hardware", "accelerator_count", "engine", "at"]
FLOOR_COLUMNS = {
    "workload_label": "floor_label",
    "isl": "floor_isl",
    "osl": "floor_osl",
    "input_per_mtok_usd": "floor_input_per_mtok_usd",
    "total_per_mtok_usd": "floor_total_per_mtok_usd",
}


def _usd(value) -> str:
    return DASH if pd.isna(value) else number(value)


def _rate(value) -> str:
    return DASH if pd.isna(value) else percent(value)


def _usd_column(header: str, key: str) -> Column:
    return Column(header, (key,), _usd, number=True, always=True)


COLUMNS = [
    Column("model", ("model",)),
    Column("hardware", ("hardware",), shared=True),
    Column("engine", ("engine",), shared=True),
    Column("batch or load", ("at",)),
    Column("workload", ("workload_label",)),
    Column("hit rate measured", ("prefix_hit_rate",), _rate, number=True, always=True),
    Column("hit rate implied", ("implied_hit_rate",), _rate, number=True, always=True),
    Column("gap", ("hit_rate_gap",)),
    _usd_column("$/M uncached input", "uncached_input_per_mtok_usd"),
    _usd_column("$/M cached input", "cached_input_per_mtok_usd"),
    _usd_column("$/M input", "input_per_mtok_usd"),
    _usd_column("$/M output", "output_per_mtok_usd"),
    _usd_column("$/M input+output", "total_per_mtok_usd"),
    Column("random floor", ("floor_label",)),
    _usd_column("floor $/M input", "floor_input_per_mtok_usd"),
    _usd_column("floor $/M input+output", "floor_total_per_mtok_usd"),
    _usd_column("API $/M like for like", "api_per_mtok_usd"),
    Column("x API", ("cost_vs_api",), _usd, number=True),
    Column("input split", ("split_method",), shared=True),
    METHOD,
]


def workload_points(report: Report) -> pd.DataFrame:
    """Offline and serving points in one table, each with its coordinate in words (`at`)."""
    tables = []
    for table in (report.offline, report.serving_points):
        if table.empty:
            continue
        at = table["load"] if "load" in table else "batch " + table["batch_size"].map(lambda b: f"{b:g}")
        tables.append(table.assign(at=at))
    return pd.concat(tables, ignore_index=True) if tables else report.offline.assign(at=None)


def with_floors(points: pd.DataFrame) -> pd.DataFrame:
    """The points whose workload is not random, each with the random point at the same FLOOR_KEYS (of the
    nearest lengths where there are several) as floor_* columns, NaN where the runs have none."""
    is_random = points["workload_kind"].fillna("random") == "random"
    reuse = points[~is_random].reset_index(drop=True).rename_axis("row").reset_index()
    floors = points.loc[is_random, [*FLOOR_KEYS, *FLOOR_COLUMNS]].rename(columns=FLOOR_COLUMNS)
    matched = reuse.merge(floors, on=FLOOR_KEYS, how="left")
    distance = sum(np.log(matched[c] / matched[f"floor_{c}"]).abs() for c in ("isl", "osl"))
    nearest = matched.assign(_distance=distance).sort_values(["row", "_distance"], kind="stable", na_position="last")
    chosen = nearest.drop_duplicates("row").drop(columns=["row", "_distance", "floor_isl", "floor_osl"])
    order = [
        c
        for c in ("mode", "model", "hardware", "engine", "batch_size", "concurrency", "request_rate", "workload_label")
        if c in chosen
    ]
    return chosen.sort_values(order, kind="stable", ignore_index=True)


def hit_rate_gap(measured, implied) -> str | None:
    """The flag of a point whose measured hit rate is more than GAP_FLAG from the implied one, else None."""
    if pd.isna(measured) or pd.isna(implied) or abs(measured - implied) <= GAP_FLAG:
        return None
    return f"flag: {abs(measured - implied) * 100:.0f} pts {'below' if measured < implied else 'above'} implied"


def workload_table(points: pd.DataFrame) -> pd.DataFrame:
    """with_floors' points, each with its gap flag and its floor's label ('—' where none)."""
    table = with_floors(points)
    table["hit_rate_gap"] = [hit_rate_gap(m, i) for m, i in zip(table["prefix_hit_rate"], table["implied_hit_rate"])]
    table["floor_label"] = table["floor_label"].fillna(DASH)
    return table


def _text(report: Report, table: pd.DataFrame) -> list[str]:
    api = report.pricing.api
    price, source = cached_input_price(api)
    text = [
        (
            "Each workload other than random, per model, hardware, engine and batch size (or load). Offline, input is "
            "priced by two prefill probes of each point's prompts with one output token each: first every request "
            "salted apart so nothing is cached (seconds per uncached input token), then the same requests again with "
            "their blocks in vLLM's prefix cache (seconds per cached input token, once the probe's uncached tokens "
            "are taken off). A point's input time is its uncached input tokens at the first plus its hits at the "
            "second; hits come from vLLM's own prefix-cache counters over the measured point, and the hit rate they "
            "imply from the workload's structure stands beside them. Random is the floor: every request carries its "
            "own cache salt, so nothing hits. Hit rates are measured (implied where so headed); every $ is estimated "
            "from measured times, priced as each point's method (Methods, above) states."
        ),
        (
            f"'API $/M like for like' prices the same tokens at {api.display_name} ({api.provider}, {api.date}): "
            f"uncached input at ${api.input_per_mtok_usd:g}/M, cached input (the point's hits) at ${price:g}/M, "
            f"{source}, output at ${api.output_per_mtok_usd:g}/M; 'x API' is $/M input+output over it."
        ),
    ]
    if (table["mode"] == "serve").any():
        text.append(
            "Serving points show their measured hit rates; their input is not split into cached and "
            "uncached (serving has no prefill probes), so their $/M cached and uncached input are '—'."
        )
    return text


def workload_sections(report: Report) -> list[Section]:
    """The section, only where some point's workload is not random."""
    points = workload_points(report)
    if points.empty or not has_reuse(points):
        return []
    table = workload_table(points)
    compact, notes = compact_view(table, COLUMNS, report.methods)
    if table["hit_rate_gap"].notna().any():
        notes.append(
            f"flag: the measured hit rate is more than {GAP_FLAG * 100:.0f} percentage points from the "
            "one the workload's structure implies (e.g. blocks evicted, or requests run before the ones "
            "whose prefix they share had filled the cache)."
        )
    plots = []
    measured = points.dropna(subset=["prefix_hit_rate"])
    if not measured.empty:
        plots.append(
            Plot(
                "cost_vs_hit_rate",
                "Cost vs prefix-cache hit rate",
                "$ per million tokens against the prefix-cache hit rate vLLM counted: one line per model and "
                "batch size (or load), so like is compared with like, a marker per workload kind. "
                f"{report.methods.caption(measured['label'])}.",
                figures.cost_vs_hit_rate(measured, figures.report_palette(report)),
            )
        )
    return [Section(TITLE, _text(report, table), table=compact, table_notes=notes, plots=plots)]
