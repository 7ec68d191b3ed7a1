"""The CI gate: a new run's points against a baseline's, priced alike; a regression fails the build.

Points are matched on their key columns (mode, model, hardware, engine, batch
size, concurrency or request rate, ISL, OSL). A point measured several times is summarised by
its median, and a change only counts when it exceeds the larger of the
threshold and the noise band: the relative spread (max - min) / median of the
repeats on either side.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.run.records import RECORDS_FILE, read_records
from tokencost.pricing.priced_runs import Pricing

KEY_COLUMNS = ("mode", "model", "hardware", "engine", "batch_size", "concurrency", "request_rate", "isl", "osl")
# A key missing from a table takes this value, so a costs.csv written before tables
# had a mode column still matches offline rows that have one.
KEY_DEFAULTS = {"mode": "offline"}
NO_VALUE = "-"

REGRESSION, IMPROVED, OK = "REGRESSION", "improved", "ok"
ONLY_IN_BASELINE, ONLY_IN_NEW = "only-in-baseline", "only-in-new"
ALL_METRICS = "(all)"


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    worse_when: str  # "higher" or "lower"


METRICS = (
    Metric("total_per_mtok_usd", "$/M tokens", "higher"),
    Metric("output_tok_s", "output tok/s", "lower"),
)


def load_points(path: Path, pricing: Pricing, label: str) -> tuple[pd.DataFrame, list[PointRecord]]:
    """Priced points and their records from a run directory, a directory of runs, a records.jsonl or a costs.csv."""
    path = Path(path)
    fix = "give a run directory (or one holding run directories), a records.jsonl or a costs.csv"
    if path.is_file() and path.suffix == ".csv":
        return _priced_csv(path, pricing, label), []
    if path.is_file() or (path / RECORDS_FILE).is_file():
        sources = [path]
    elif path.is_dir():
        sources = sorted(p.parent for p in path.glob(f"*/{RECORDS_FILE}"))
        if not sources:
            raise UserError(label, f"{path} has no {RECORDS_FILE}", fix)
    else:
        raise UserError(label, f"{path} does not exist", fix)
    records, tables = [], []
    for source in sources:
        run = read_records(source)
        records += run
        priced = pricing.price(run)
        tables += [] if priced.empty else [priced.merged()]
    if not tables:
        raise UserError(label, f"{path} has no successfully measured point", "give a run with at least one ok point")
    return pd.concat(tables, ignore_index=True), records


def _priced_csv(path: Path, pricing: Pricing, label: str) -> pd.DataFrame:
    try:
        points = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        reason = "is empty" if isinstance(e, pd.errors.EmptyDataError) else "is not a readable CSV table"
        raise UserError(label, f"{path} {reason}", "give a costs.csv written by tokencost") from None
    if "mode" in points and "batch_size" in points:
        # Tables priced before schema 3 gave serving rows their concurrency as batch size too.
        points.loc[points["mode"] == "serve", "batch_size"] = float("nan")
    needed = {"model", "engine", *(m.column for m in METRICS)}
    if missing := sorted(needed - set(points.columns)):
        raise UserError(label, f"{path} lacks the columns {', '.join(missing)}",
                        "give a costs.csv written by tokencost")
    hashes = set(points.get("assumptions_hash", pd.Series(dtype=object)).dropna())
    if hashes and hashes != {pricing.assumptions.hash}:
        raise UserError(label, f"{path} was priced with other assumptions (hash {', '.join(sorted(hashes))}, "
                               f"not {pricing.assumptions.hash})",
                        "give the run directory to re-price it, or the same --preset/--set options")
    if points.empty:
        raise UserError(label, f"{path} has no priced point", "give a costs.csv with at least one row")
    return points


def key_columns(*tables: pd.DataFrame, keys=KEY_COLUMNS) -> list[str]:
    """The key columns present in any of the tables."""
    return [k for k in keys if any(k in t.columns for t in tables)]


def keyed_points(points: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    keyed = points.copy()
    for key in keys:
        column = keyed[key] if key in keyed.columns else pd.Series(None, index=keyed.index, dtype=object)
        keyed[key] = column.map(_key_value).replace(NO_VALUE, KEY_DEFAULTS.get(key, NO_VALUE))
    return keyed


def _key_value(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return NO_VALUE
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 4.0 read back from a CSV matches 4
    return str(value)


def _summary(points: pd.DataFrame, keys: list[str], metrics) -> pd.DataFrame:
    """Per point and metric: median, relative spread of the repeats, and how many there were."""
    long = points.melt(id_vars=keys, value_vars=[m.column for m in metrics], var_name="metric", value_name="value")
    grouped = long.groupby([*keys, "metric"], sort=False)["value"]
    summary = grouped.agg(["median", "min", "max", "count"])
    summary["spread"] = ((summary["max"] - summary["min"]) / summary["median"].abs()).fillna(0.0)
    return summary[["median", "spread", "count"]]


def compare(baseline: pd.DataFrame, new: pd.DataFrame, threshold: float, metrics=METRICS,
            keys=KEY_COLUMNS) -> pd.DataFrame:
    """One row per point and metric: medians, change, the band used and a verdict."""
    keys = key_columns(baseline, new, keys=keys)
    diff = _summary(keyed_points(baseline, keys), keys, metrics).join(
        _summary(keyed_points(new, keys), keys, metrics), how="outer", suffixes=("_baseline", "_new"),
    ).reset_index()
    if diff[["median_baseline", "median_new"]].notna().all(axis=1).sum() == 0:
        raise UserError("NEW", f"no point matches a baseline point on {', '.join(keys)}",
                        "compare runs of the same models, hardware and workload")
    diff["change"] = diff["median_new"] / diff["median_baseline"] - 1
    noise = diff[["spread_baseline", "spread_new"]].max(axis=1).fillna(0.0)
    diff["band"] = noise.clip(lower=threshold)
    diff["band_source"] = noise.gt(threshold).map({True: "noise", False: "threshold"})
    worse_when = {m.column: m.worse_when for m in metrics}
    diff["verdict"] = [_verdict(row, worse_when[row["metric"]]) for row in diff.to_dict("records")]
    labels = [m.label for m in metrics]
    diff["metric"] = pd.Categorical(diff["metric"].map(dict(zip((m.column for m in metrics), labels))),
                                    categories=[*labels, ALL_METRICS], ordered=True)
    # A point on one side only needs one row, not one per metric.
    one_sided = diff["verdict"].isin([ONLY_IN_BASELINE, ONLY_IN_NEW])
    diff.loc[one_sided, "metric"] = ALL_METRICS
    diff = diff[~one_sided | ~diff.duplicated(keys)]
    diff = diff.sort_values([*keys, "metric"], key=_natural_order, ignore_index=True)
    diff.attrs.update(keys=keys, threshold=threshold)
    return diff


def _natural_order(column: pd.Series) -> pd.Series:
    """Numbers as numbers (batch 4 before 16), with no value last."""
    if column.name == "metric":
        return column
    numbers = pd.to_numeric(column.replace(NO_VALUE, None), errors="coerce")
    return numbers if numbers.notna().sum() == (column != NO_VALUE).sum() else column


def _verdict(row: dict, worse_when: str) -> str:
    if pd.isna(row["median_new"]):
        return ONLY_IN_BASELINE
    if pd.isna(row["median_baseline"]):
        return ONLY_IN_NEW
    worse = row["change"] if worse_when == "higher" else -row["change"]
    if worse > row["band"]:
        return REGRESSION
    if worse < -row["band"]:
        return IMPROVED
    return OK


def diff_markdown(diff: pd.DataFrame) -> str:
    """The diff as a Markdown table, without key columns that say nothing (one default value throughout)."""
    keys = [k for k in diff.attrs["keys"]
            if diff[k].nunique() > 1 or diff[k].iloc[0] not in (NO_VALUE, KEY_DEFAULTS.get(k))]
    table = pd.DataFrame({
        **{k: diff[k] for k in keys},
        "metric": diff["metric"],
        "baseline": [_figure(m, n) for m, n in zip(diff["median_baseline"], diff["count_baseline"])],
        "new": [_figure(m, n) for m, n in zip(diff["median_new"], diff["count_new"])],
        "change": diff["change"].map(lambda c: "" if pd.isna(c) else f"{c:+.1%}"),
        "band": [f"{b:.1%} ({s})" if v not in (ONLY_IN_BASELINE, ONLY_IN_NEW) else ""
                 for b, s, v in zip(diff["band"], diff["band_source"], diff["verdict"])],
        "verdict": diff["verdict"],
    }).rename(columns={"batch_size": "batch"})
    return table.to_markdown(index=False)


def _figure(median, count) -> str:
    if pd.isna(median):
        return ""
    text = f"{median:.4g}"
    return f"{text} (median of {int(count)})" if count > 1 else text


def counts(diff: pd.DataFrame) -> dict[str, int]:
    """Points per verdict (a point with a regression in any metric counts as a regression)."""
    keys = diff.attrs["keys"]
    rank = {REGRESSION: 0, ONLY_IN_BASELINE: 1, ONLY_IN_NEW: 2, IMPROVED: 3, OK: 4}
    worst = diff.assign(rank=diff["verdict"].map(rank)).groupby(keys)["rank"].min()
    by_rank = worst.value_counts().to_dict()
    return {verdict: by_rank.get(r, 0) for verdict, r in rank.items()}
