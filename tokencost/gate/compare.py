"""The CI gate: a new run's points against a baseline's, priced alike; a regression fails the build.

Points are matched on their key columns (mode, model, hardware, engine, batch
size, concurrency or request rate, ISL, OSL). A point measured several times is summarised by
its median, and a change only counts when it exceeds the larger of the
threshold and the noise band: the relative spread (max - min) / median of the
repeats on either side.

A baseline row labelled "projected..." (a published projection) is no measurement: when NEW measures its
point, the row is "now-measured" and the comparison says how far the projection was off (projected /
measured - 1) and whether that is inside the row's error_band; when NEW does not, it is "still-projected".
Neither fails the gate, and a projection is matched on its GPU count (accelerator_count) too.
"""

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.run.records import RECORDS_FILE, read_records
from tokencost.pricing.priced_runs import Pricing

KEY_COLUMNS = (
    "mode",
    "model",
    "hardware",
    "engine",
    "precision",
    "batch_size",
    "concurrency",
    "request_rate",
    "isl",
    "osl",
)
# A key missing from a table takes this value, so a costs.csv written before tables
# had a mode (or precision) column still matches offline (bf16) rows that have one.
KEY_DEFAULTS = {"mode": "offline", "precision": "bf16"}
NO_VALUE = "-"

REGRESSION, IMPROVED, OK = "REGRESSION", "improved", "ok"
ONLY_IN_BASELINE, ONLY_IN_NEW = "only-in-baseline", "only-in-new"
NOW_MEASURED, STILL_PROJECTED = "now-measured", "still-projected"
ONE_SIDED = (ONLY_IN_BASELINE, ONLY_IN_NEW, STILL_PROJECTED)
ALL_METRICS = "(all)"
PROJECTED_LABEL = "projected"  # how a projection's label starts (tokencost.analysis.projection)
GPU_COUNT = "accelerator_count"  # a projection is for this many GPUs, so it is matched on it too
BAND_TOLERANCE = 1e-9  # an error of exactly the band is inside it, whatever the last bit of a float says


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    worse_when: str  # "higher" or "lower"


METRICS = (
    Metric("total_per_mtok_usd", "$/M input+output", "higher"),
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
        raise UserError(
            label, f"{path} lacks the columns {', '.join(missing)}", "give a costs.csv written by tokencost"
        )
    hashes = set(points.get("assumptions_hash", pd.Series(dtype=object)).dropna())
    if hashes and hashes != {pricing.assumptions.hash}:
        raise UserError(
            label,
            f"{path} was priced with other assumptions (hash {', '.join(sorted(hashes))}, "
            f"not {pricing.assumptions.hash})",
            "give the run directory to re-price it, or the same pricing options (--preset, --set, --years, ...)",
        )
    if points.empty:
        raise UserError(label, f"{path} has no priced point", "give a costs.csv with at least one row")
    for metric in METRICS:
        points[metric.column] = _metric_values(points[metric.column], path, label)
    if "error_band" in points:
        points["error_band"] = _error_bands(points["error_band"], path, label)
    return points


def _metric_values(column: pd.Series, path: Path, label: str) -> pd.Series:
    """A metric column as numbers, every one finite and positive. A NaN median compares as neither better nor
    worse (so "ok"), and a NaN key-less point as "only in baseline": either would pass the gate unseen."""
    values = pd.to_numeric(column, errors="coerce")
    bad = ~(values.gt(0) & values.lt(float("inf")))
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raw = column.iloc[row]
        shown = "empty (or NaN)" if pd.isna(raw) else repr(raw)[:40] if isinstance(raw, str) else str(raw)
        raise UserError(
            label,
            f"{path} row {row + 1} (line {row + 2}) column {column.name} is {shown}, not a positive number",
            "give a costs.csv written by tokencost, or re-price its run directory",
        )
    return values


def _error_bands(column: pd.Series, path: Path, label: str) -> pd.Series:
    bands = pd.to_numeric(column, errors="coerce")
    if (bad := column[column.notna() & ~(bands >= 0)]).size:
        raise UserError(
            label,
            f"{path} has an error_band that is not a fraction ({bad.iloc[0]!r})",
            "write it as a fraction, e.g. 0.16 for +/-16%, or leave it empty",
        )
    return bands


def projected_rows(points: pd.DataFrame) -> pd.Series:
    """Which rows are projections, not measurements: those whose label starts with "projected"."""
    labels = points["label"] if "label" in points else pd.Series("", index=points.index)
    return labels.fillna("").astype(str).str.strip().str.lower().str.startswith(PROJECTED_LABEL)


def refuse_projections(points: pd.DataFrame, path: Path, label: str) -> None:
    """NEW is what was measured: a table of projections cannot stand for it."""
    if count := int(projected_rows(points).sum()):
        raise UserError(
            label,
            f"{path} holds {count} projected row(s) (label 'projected...'), and a projection is not a measurement",
            "give a measured run, its records.jsonl or its costs.csv",
        )


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


def compare(
    baseline: pd.DataFrame, new: pd.DataFrame, threshold: float, metrics=METRICS, keys=KEY_COLUMNS
) -> pd.DataFrame:
    """One row per point and metric: medians, change, the band used and a verdict; for a projected baseline
    point also its error band, how far off it was (projected / measured - 1) and whether that is in the band."""
    projected = projected_rows(baseline)
    if projected.any() and GPU_COUNT in baseline and GPU_COUNT in new:
        keys = (*keys, GPU_COUNT)
    keys = key_columns(baseline, new, keys=keys)
    base = _without_superseded(keyed_points(baseline, keys).assign(projected=projected), keys)
    keyed_new = keyed_points(new, keys)
    diff = (
        _summary(base, keys, metrics)
        .join(
            _summary(keyed_new, keys, metrics),
            how="outer",
            suffixes=("_baseline", "_new"),
        )
        .reset_index()
    )
    if diff[["median_baseline", "median_new"]].notna().all(axis=1).sum() == 0:
        raise UserError(
            "NEW",
            f"no point matches a baseline point on {', '.join(keys)}",
            "compare runs of the same models, hardware and workload",
        )
    diff["change"] = diff["median_new"] / diff["median_baseline"] - 1
    noise = diff[["spread_baseline", "spread_new"]].max(axis=1).fillna(0.0)
    diff["band"] = noise.clip(lower=threshold)
    diff["band_source"] = noise.gt(threshold).map({True: "noise", False: "threshold"})
    worse_when = {m.column: m.worse_when for m in metrics}
    diff["verdict"] = [_verdict(row, worse_when[row["metric"]]) for row in diff.to_dict("records")]
    diff = _projections(diff, base, keyed_new, keys)
    labels = [m.label for m in metrics]
    diff["metric"] = pd.Categorical(
        diff["metric"].map(dict(zip((m.column for m in metrics), labels))),
        categories=[*labels, ALL_METRICS],
        ordered=True,
    )
    # A point on one side only needs one row, not one per metric.
    one_sided = diff["verdict"].isin(ONE_SIDED)
    diff.loc[one_sided, "metric"] = ALL_METRICS
    diff = diff[~one_sided | ~diff.duplicated(keys)]
    diff = diff.sort_values([*keys, "metric"], key=_natural_order, ignore_index=True)
    diff.attrs.update(keys=keys, threshold=threshold)
    return diff


def _without_superseded(base: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The baseline without projections of points it also holds measurements of (those are the baseline)."""
    measured = base.loc[~base["projected"], keys].drop_duplicates()
    superseded = base[keys].merge(measured, on=keys, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    return base[~(base["projected"].to_numpy() & superseded)]


def _projections(diff: pd.DataFrame, base: pd.DataFrame, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Projected points' verdicts, error bands, how far off they were and whether that is inside the band."""
    bands = pd.to_numeric(base["error_band"], errors="coerce") if "error_band" in base else float("nan")
    projections = (
        base[base["projected"]]
        .assign(error_band=bands)
        .groupby(keys, sort=False)
        .agg(projected=("projected", "any"), error_band=("error_band", "max"))
        .reset_index()
    )
    measured = new[keys].drop_duplicates().assign(in_new=True)
    diff = diff.merge(projections, on=keys, how="left").merge(measured, on=keys, how="left")
    diff["projected"] = diff["projected"].eq(True)
    in_new = diff["in_new"].eq(True)
    diff.loc[diff["projected"], "verdict"] = in_new[diff["projected"]].map({True: NOW_MEASURED, False: STILL_PROJECTED})
    now = diff["verdict"] == NOW_MEASURED
    diff["projection_off"] = (diff["median_baseline"] / diff["median_new"] - 1).where(now)
    known = now & diff["projection_off"].notna() & diff["error_band"].notna()
    inside = diff["projection_off"].abs() <= diff["error_band"] + BAND_TOLERANCE
    diff["within_band"] = inside.astype(object).where(known, None)
    return diff.drop(columns="in_new")


def _natural_order(column: pd.Series) -> pd.Series:
    """Numbers as numbers (batch 4 before 16), with no value last."""
    if column.name == "metric":
        return column
    numbers = _numbers(column)
    return column if numbers is None else numbers


def _numbers(column: pd.Series) -> pd.Series | None:
    """A key column as numbers (no value: NaN) when every value it has is one; None when not."""
    numbers = pd.to_numeric(column.replace(NO_VALUE, None), errors="coerce")
    return numbers if numbers.notna().sum() == (column != NO_VALUE).sum() else None


def with_key_values(diff: pd.DataFrame) -> pd.DataFrame:
    """The diff with its key columns as the values they match on, e.g. for JSON: a batch size as a number again
    (whole numbers as integers), no value as None."""
    values = {}
    for key in diff.attrs["keys"]:
        numbers = _numbers(diff[key])
        if numbers is None:
            values[key] = diff[key].replace(NO_VALUE, None)
        else:
            whole = (numbers.dropna() % 1 == 0).all()
            values[key] = numbers.astype("Int64") if whole else numbers
    return diff.assign(**values)


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
    """The diff as a Markdown table, without key columns that say nothing (one default value throughout, or one
    GPU count); a projection's change and band are how far off it was and its error band."""
    keys = [
        k
        for k in diff.attrs["keys"]
        if diff[k].nunique() > 1 or k != GPU_COUNT and diff[k].iloc[0] not in (NO_VALUE, KEY_DEFAULTS.get(k))
    ]
    gated = ~diff["projected"] & ~diff["verdict"].isin(ONE_SIDED)
    table = pd.DataFrame(
        {
            **{k: diff[k] for k in keys},
            "metric": diff["metric"],
            "baseline": [_figure(m, n) for m, n in zip(diff["median_baseline"], diff["count_baseline"])],
            "new": [_figure(m, n) for m, n in zip(diff["median_new"], diff["count_new"])],
            "change": diff["change"].map(lambda c: "" if pd.isna(c) else f"{c:+.1%}").where(gated, ""),
            "band": [
                f"{b:.1%} ({s})" if g else _off_text(row)
                for b, s, g, row in zip(diff["band"], diff["band_source"], gated, diff.to_dict("records"))
            ],
            "verdict": diff["verdict"],
        }
    ).rename(columns={"batch_size": "batch", GPU_COUNT: "gpus"})
    return table.to_markdown(index=False)


def _off_text(row: dict) -> str:
    """e.g. "off +10.0%, in +/-16%": how far a projection was off its measurement, against its error band."""
    if row["verdict"] != NOW_MEASURED or pd.isna(row["projection_off"]):
        return ""
    off = f"off {row['projection_off']:+.1%}"
    if pd.isna(row["error_band"]):
        return f"{off}, no band"
    return f"{off}, {'in' if row['within_band'] else 'outside'} +/-{row['error_band']:.0%}"


def _figure(median, count) -> str:
    if pd.isna(median):
        return ""
    text = f"{median:.4g}"
    return f"{text} (median of {int(count)})" if count > 1 else text


def counts(diff: pd.DataFrame) -> dict[str, int]:
    """Points per verdict (a point with a regression in any metric counts as a regression)."""
    keys = diff.attrs["keys"]
    rank = {REGRESSION: 0, ONLY_IN_BASELINE: 1, ONLY_IN_NEW: 2, IMPROVED: 3, OK: 4, NOW_MEASURED: 5, STILL_PROJECTED: 6}
    worst = diff.assign(rank=diff["verdict"].map(rank)).groupby(keys)["rank"].min()
    by_rank = worst.value_counts().to_dict()
    return {verdict: by_rank.get(r, 0) for verdict, r in rank.items()}


def projection_lines(diff: pd.DataFrame) -> list[str]:
    """What became of the baseline's projections, in lines of at most 120 characters (none without any)."""
    keys = diff.attrs["keys"]
    now = diff[diff["verdict"] == NOW_MEASURED]
    sentences = []
    if count := now.groupby(keys).ngroups:
        speed, cost = (now[now["metric"] == m.label] for m in (METRICS[1], METRICS[0]))
        rows = "row is" if count == 1 else "rows are"
        sentences.append(
            f"{count} projected {rows} now measured: projection off by {_off_summary(speed)} "
            f"in output tok/s {_range(speed)}, {_band_summary(speed)}."
        )
        sentences.append(
            f"In $/M input+output it was off by {_off_summary(cost)} {_range(cost)}, {_band_summary(cost)}."
        )
    if still := diff.loc[diff["verdict"] == STILL_PROJECTED, keys].drop_duplicates().shape[0]:
        sentences.append(
            f"{still} projected row{'' if still == 1 else 's'} not measured in NEW (still-projected); "
            "projections never fail the gate, even with --require-all."
        )
    return [
        line
        for sentence in sentences
        for line in textwrap.wrap(sentence, 120, subsequent_indent="  ", break_on_hyphens=False)
    ]


def _off_summary(rows: pd.DataFrame) -> str:
    """e.g. "a median -7.5%"."""
    off = rows["projection_off"].dropna()
    return f"a median {off.median():+.1%}" if off.size else "an unknown amount"


def _range(rows: pd.DataFrame) -> str:
    """e.g. "(range -25.0..+10.0%)"."""
    off = rows["projection_off"].dropna() * 100
    return f"(range {off.min():+.1f}..{off.max():+.1f}%)" if off.size else "(no figure on one side)"


def _band_summary(rows: pd.DataFrame) -> str:
    """e.g. "1 of 2 within their error band", saying how many had none."""
    banded = rows["within_band"].dropna()
    if banded.empty:
        return "none with an error band"
    without = f" ({len(rows) - len(banded)} without one)" if len(banded) < len(rows) else ""
    return f"{int(banded.sum())} of {len(banded)} within their error band{without}"


# pytest-benchmark names of tokencost.gate.benchmark_json's series, and the metric each one is
BENCHMARK_METRICS = {"usd_per_mtok": "total_per_mtok_usd", "s_per_output_token": "output_tok_s"}


def with_verdicts(data: dict, diff: pd.DataFrame) -> dict:
    """NEW's pytest-benchmark JSON with each benchmark's verdict in its extra_info (a projection's error and
    band too), and every verdict's count of points as tokencost_compare."""
    labels = {m.column: m.label for m in METRICS}
    keys = [k for k in diff.attrs["keys"] if k in KEY_COLUMNS]  # the keys benchmark_json names points by
    measured = diff[diff["median_new"].notna() | (diff["verdict"] == ONLY_IN_NEW)]
    for benchmark in data["benchmarks"]:
        params = {k: str(v) for k, v in benchmark["params"].items()}
        metric = labels[BENCHMARK_METRICS[benchmark["name"].split("[")[0]]]
        same = measured[
            (measured[keys] == [params.get(k, KEY_DEFAULTS.get(k, NO_VALUE)) for k in keys]).all(axis=1)
            & measured["metric"].isin([metric, ALL_METRICS])
        ]
        if not same.empty:
            benchmark["extra_info"] |= _verdict_info(same.iloc[0])
    return data | {"tokencost_compare": {"counts": counts(diff)}}


def _verdict_info(row: pd.Series) -> dict:
    info = {"verdict": row["verdict"]}
    if row["verdict"] == NOW_MEASURED:
        info |= {
            "projection_off": _number(row["projection_off"]),
            "error_band": _number(row["error_band"]),
            "within_error_band": None if pd.isna(row["within_band"]) else bool(row["within_band"]),
        }
    return info


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)
