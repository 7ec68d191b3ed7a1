"""Error bands by regime, set and checked on published measurements the serving model was not fitted on.

The serving model is fitted on part of ML.ENERGY's LMArena chat points (tokencost.analysis.calibration). Every
other published point is held out: the rest of those chat points, ML.ENERGY's GPQA points (long reasoning
outputs, a workload the fit never saw) and the vLLM measurements others published (data/calibration/
published_vllm.csv; see the README beside it). Each held-out point is projected the way the GPU table projects
(at the in-flight batch the source measured; at the KV cache's limit where the source's batch was the cache's
limit) and given its regime (tokencost.analysis.regimes).

A regime's band, for one calibration (the GPU it was fitted on), is a split-conformal band on the log of
measured / projected: with n held-out points, the band is projected x exp(+/-q), q the k-th smallest
|log(measured / projected)| with k = ceil((n + 1) x LEVEL), so that a new point exchangeable with those n
falls inside with probability LEVEL or more. It needs n >= 6 at LEVEL 0.85 (k <= n). Where a regime's points
come from fewer than MIN_SERIES series (one source, model, GPU and GPU count) or are too few for k <= n, the
regime is POOLED: its band is the one every BF16 regime of the calibration gives together (labelled so). A
regime with no held-out point at all has no band, and says so in words; so do a borrowed calibration and a
precision other than BF16, which are not pooled (their calibration itself is in question: see below).

Coverage is checked without letting a point set its own band: each held-out point is held against the band
made, by the same rule, from the other points of its calibration that are not of its own series, the way a new
model or workload meets the shipped band. Points of one series are not independent (one engine, model and GPU
lean one way), so coverage on new series can fall short of LEVEL: that shortfall is what the check measures. A
point with no band made without its series is not testable and is counted apart.

FP8: the efficiency in FP8 is BF16's times a factor fitted on one published FP8 measurement paired with a BF16
one of the same engine, GPU and workload (their ratio measured / projected, FP8's over BF16's, so the GPU's
variant and the workload cancel); the other FP8 points are held out. A precision with no held-out band of its
own keeps an assumed band, labelled so: ASSUMED_FACTOR times the BF16 band of the point's BF16 regime.
"""

import math
import sys
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from bench.inputs.cards import load_card
from bench.inputs.precision import Precision
from tokencost.analysis.calibration import (
    FITTED,
    MEMORY_CAPPED,
    PROMPT_TOKENS,
    calibration_for,
    comparison,
    fitted,
    fitted_toml,
    measurements,
    readme_table,
    shipped_calibrations,
    training_rows,
)
from tokencost.analysis.regimes import BF16_REGIMES, BORROWED, Point, regime, saturated
from tokencost.pricing.catalog import HardwareEntry, find_hardware, load_catalog
from tokencost.pricing.roofline import required_figures
from tokencost.pricing.serving_model import Calibration, kv_sequences, project_throughput

GPQA = "data/calibration/mlenergy_v3_gpqa.csv"
PUBLISHED = "data/calibration/published_vllm.csv"
HELD_OUT_DOC = "data/calibration/held-out.md"
GPQA_PROMPT_TOKENS = 300  # assumed mean prompt of a GPQA question with its four answers, not published
CHAT_SOURCE, GPQA_SOURCE = "ML.ENERGY v3 LMArena chat", "ML.ENERGY v3 GPQA"
LEVEL = 0.85  # the share of new points a band is made to hold (issue #27's target coverage)
MIN_SERIES = 2  # a regime's own band needs points from this many series; fewer, and the calibration's regimes pool
MIN_POINTS = math.ceil(LEVEL / (1 - LEVEL))  # the fewest points whose conformal rank k = ceil((n+1) LEVEL) is <= n
ASSUMED_FACTOR = 2.0  # an uncalibrated precision's band: this many times BF16's, an assumption
# The FP8 factor's fit: the published pair (source, engine version) whose FP8 row is fitted, its BF16 row the anchor.
FP8_FIT = ("vllm-issue-25915", "0.10.2")
TARGET_COVERAGE, TARGET_HALF_WIDTH = 0.85, 0.25
POOLABLE = tuple(name for name in BF16_REGIMES if name != BORROWED)  # one calibration's own BF16 regimes


@dataclass(frozen=True)
class Band:
    """measured / projected lies between low and high on the held-out points of one regime of one calibration."""

    gpu: str  # the calibration's GPU
    regime: str
    low: float
    high: float
    points: int
    assumed: bool = False  # not from held-out points: an uncalibrated precision's widened BF16 band
    pooled: bool = False  # from every BF16 regime of the calibration: this regime alone has too few series

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def envelope(self) -> float:
        """The largest |measured / projected - 1| inside the band: a symmetric band that holds it."""
        return max(1 - self.low, self.high - 1)

    def widened(self, precision: str) -> "Band":
        """This BF16 band widened ASSUMED_FACTOR times about the projection, for an uncalibrated precision."""
        low = max(0.05, 1 - ASSUMED_FACTOR * max(0.0, 1 - self.low))
        high = 1 + ASSUMED_FACTOR * max(0.0, self.high - 1)
        return replace(self, regime=precision, low=low, high=high, points=0, assumed=True, pooled=False)


def _data(path: str) -> pd.DataFrame:
    return pd.read_csv(resources.files("tokencost").joinpath(path).open())


def _mlenergy(points: pd.DataFrame, source: str, prompt: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": source,
            "card": points["card"],
            "gpu": points["gpu"],
            "gpus": points["gpus"],
            "precision": "bf16",
            "engine_version": "0.11.1",
            "isl": float(prompt),
            "osl": points["avg_output_len"],
            "average_context": prompt + points["output_tail_context"],
            "batch": points["avg_batch_size"],
            "source_capped": points["avg_batch_size"] < MEMORY_CAPPED * points["max_num_seqs"],
            "measured_tok_s": points["output_tok_s"],
        }
    )


def published_points() -> pd.DataFrame:
    rows = _data(PUBLISHED)
    return pd.DataFrame(
        {
            "source": rows["source"],
            "card": rows["card"],
            "gpu": rows["gpu"],
            "gpus": rows["gpus"],
            "precision": rows["precision"],
            "engine_version": rows["engine_version"].astype(str),
            "isl": rows["isl"],
            "osl": rows["osl"],
            "average_context": rows["isl"] + rows["osl"] / 2,
            "batch": rows["batch"],  # empty: all requests queued at once, the batch is the KV cache's limit
            "source_capped": rows["batch"].isna(),
            "measured_tok_s": rows["output_tok_s"],
        }
    )


def fp8_fit_rows(points: pd.DataFrame) -> pd.Series:
    """True for the published points the FP8 factor is fitted on (the FP8 row and its BF16 anchor)."""
    source, version = FP8_FIT
    return (points["source"] == source) & (points["engine_version"] == version)


def all_points() -> pd.DataFrame:
    """Every published point the serving model's parameters were not fitted on, and the FP8 fit's pair."""
    chat = measurements()
    return pd.concat(
        [
            _mlenergy(chat[~training_rows(chat)], CHAT_SOURCE, PROMPT_TOKENS),
            _mlenergy(_data(GPQA), GPQA_SOURCE, GPQA_PROMPT_TOKENS),
            published_points(),
        ],
        ignore_index=True,
    )


def _precision(name: str) -> Precision:
    return Precision.model_validate(
        {"weights": name}
    )  # the published rows' FP8 is weights only (the checkpoints keep a BF16 KV cache)


def project_point(row: dict, calibrations: dict[str, Calibration], catalog: list[HardwareEntry]) -> dict:
    """One published point projected as the GPU table projects it, with its regime."""
    card = load_card(row["card"])
    entry = find_hardware(row["gpu"], catalog)
    calibration, note = calibration_for(entry, calibrations)
    precision = _precision(row["precision"])
    gpus = int(row["gpus"])
    figures = required_figures(entry, gpus, precision)
    context = float(row["average_context"])
    max_batch = kv_sequences(card, figures, gpus, context, precision=precision)
    batch = max_batch if row["source_capped"] else max(1, round(row["batch"]))
    projection = project_throughput(
        card,
        figures,
        gpus,
        max(1, batch),
        max(1, round(row["isl"])),
        max(1, round(row["osl"])),
        calibration,
        average_context=context,
        precision=precision,
    )
    point = Point(
        borrowed=bool(note),
        precision=precision.name,
        gpus=gpus,
        batch=batch,
        saturated=bool(row["source_capped"]) or saturated(batch, max_batch),
        isl=float(row["isl"]),
        osl=float(row["osl"]),
        average_context=context,
    )
    return {
        "calibration": calibration.fitted_on,
        "regime": regime(point),
        "projected_batch": batch,
        "projected_max_batch": max_batch,
        "projected_tok_s": projection.output_tok_s,
    }


def fit_fp8(calibration: Calibration, points: pd.DataFrame, catalog: list[HardwareEntry]) -> Calibration:
    """`calibration` with its FP8 factor: on the FP8 fit's pair, (measured / projected) in FP8 over that in BF16,
    the projection in FP8 made with BF16's efficiency."""
    pair = points[fp8_fit_rows(points) & (points["gpu"] == calibration.fitted_on)]
    if set(pair["precision"]) != {"bf16", "fp8"}:
        return calibration
    plain = replace(calibration, precision_factor={})
    ratio = {
        row["precision"]: row["measured_tok_s"]
        / project_point(row, {calibration.fitted_on: plain}, catalog)["projected_tok_s"]
        for row in pair.to_dict("records")
    }
    return replace(calibration, precision_factor={"fp8": ratio["fp8"] / ratio["bf16"]})


def held_out_errors(calibrations: dict[str, Calibration], catalog: list[HardwareEntry]) -> pd.DataFrame:
    """Every held-out point, projected, with measured / projected and its regime (the FP8 fit's FP8 row left out)."""
    points = all_points()
    fitted_fp8 = fp8_fit_rows(points) & (points["precision"] != "bf16")
    points = points[~fitted_fp8].reset_index(drop=True)
    projected = pd.DataFrame([project_point(row, calibrations, catalog) for row in points.to_dict("records")])
    table = pd.concat([points, projected], axis=1)
    table["ratio"] = table["measured_tok_s"] / table["projected_tok_s"]
    table["series"] = (
        table["source"] + " " + table["card"] + " " + table["gpus"].astype(str) + "x" + table["gpu"].astype(str)
    )
    return table


def conformal(ratios: pd.Series) -> tuple[float, float] | None:
    """The band exp(+/-q) that a new point exchangeable with `ratios` (measured / projected) falls inside with
    probability LEVEL or more: q the k-th smallest |log ratio|, k = ceil((n + 1) x LEVEL); None where k > n."""
    scores = np.sort(np.abs(np.log(ratios.to_numpy(dtype=float))))
    k = math.ceil((len(scores) + 1) * LEVEL - 1e-9)  # 1e-9: (n + 1) x 0.85 is a whole number in exact arithmetic
    if k > len(scores):
        return None
    return math.exp(-scores[k - 1]), math.exp(scores[k - 1])


def _own_band(points: pd.DataFrame) -> bool:
    return points["series"].nunique() >= MIN_SERIES and len(points) >= MIN_POINTS


def band_of(gpu: str, name: str, points: pd.DataFrame) -> Band | None:
    """The band of regime `name` of calibration `gpu` from held-out `points` (that calibration's): its own where
    its points allow, else the pool of every BF16 regime's; none for a borrowed calibration or another precision
    without enough points of its own (they are not pooled)."""
    own = points[points["regime"] == name]
    pooled = not _own_band(own)
    if pooled and name not in POOLABLE:
        return None
    chosen = points[points["regime"].isin(POOLABLE)] if pooled else own
    found = conformal(chosen["ratio"])
    return None if found is None else Band(gpu, name, found[0], found[1], len(chosen), pooled=pooled)


def bands(errors: pd.DataFrame) -> list[Band]:
    """The band of every regime of every calibration that has held-out points (a regime without any has none)."""
    found = (
        band_of(gpu, name, group)
        for gpu, group in errors.groupby("calibration")
        for name in sorted(group["regime"].unique())
    )
    return [band for band in found if band is not None]


def coverage(errors: pd.DataFrame) -> pd.DataFrame:
    """Each held-out point against the band its regime gets without the point's own series: low, high, whether
    that band was pooled, inside."""
    rows = []
    for row in errors.to_dict("records"):
        others = errors[(errors["calibration"] == row["calibration"]) & (errors["series"] != row["series"])]
        band = band_of(row["calibration"], row["regime"], others)
        rows.append(
            {
                "check_low": band.low if band else math.nan,
                "check_high": band.high if band else math.nan,
                "check_pooled": None if band is None else band.pooled,
                "inside": None if band is None else bool(band.low <= row["ratio"] <= band.high),
            }
        )
    return pd.concat([errors.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def regime_summary(checked: pd.DataFrame, shipped: list[Band]) -> pd.DataFrame:
    """Per calibration and regime: held-out points, the ones testable, coverage, median half-width checked, and
    the band shipped."""
    by_key = {(b.gpu, b.regime): b for b in shipped}
    rows = []
    for (gpu, name), group in checked.groupby(["calibration", "regime"]):
        tested = group[group["inside"].notna()]
        band = by_key.get((gpu, name))
        rows.append(
            {
                "calibration": gpu,
                "regime": name,
                "points": len(group),
                "series": group["series"].nunique(),
                "testable": len(tested),
                "inside": int(tested["inside"].sum()) if len(tested) else 0,
                "coverage": tested["inside"].mean() if len(tested) else math.nan,
                "median_half_width": ((tested["check_high"] - tested["check_low"]) / 2).median()
                if len(tested)
                else math.nan,
                "band_low": band.low if band else math.nan,
                "band_high": band.high if band else math.nan,
                "band_pooled": bool(band and band.pooled),
                "checked_pooled": int(tested["check_pooled"].astype(bool).sum()),
            }
        )
    return pd.DataFrame(rows)


def totals(checked: pd.DataFrame) -> dict[str, float]:
    tested = checked[checked["inside"].notna()]
    return {
        "points": len(checked),
        "testable": len(tested),
        "coverage": float(tested["inside"].mean()) if len(tested) else math.nan,
        "median_half_width": float(((tested["check_high"] - tested["check_low"]) / 2).median())
        if len(tested)
        else math.nan,
    }


def _percent(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.0%}"


def _ratio(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.2f}"


def summary_markdown(checked: pd.DataFrame, shipped: list[Band]) -> str:
    summary = regime_summary(checked, shipped)
    shown = pd.DataFrame(
        {
            "calibration": summary["calibration"],
            "regime": summary["regime"],
            "held-out points (series)": [f"{p} ({s})" for p, s in zip(summary["points"], summary["series"])],
            "testable": summary["testable"],
            "inside their band": [
                f"{i} of {t} ({_percent(c)})" if t else "not testable: one series, not pooled"
                for i, t, c in zip(summary["inside"], summary["testable"], summary["coverage"])
            ],
            "checked against the pool": [
                f"{p} of {t}" if t else "-" for p, t in zip(summary["checked_pooled"], summary["testable"])
            ],
            "median half-width": summary["median_half_width"].map(_percent),
            "band shipped (measured / projected)": [
                "none: one series, not pooled"
                if pd.isna(lo)
                else f"{lo:.2f} to {hi:.2f}" + (" (pooled)" if pooled else "")
                for lo, hi, pooled in zip(summary["band_low"], summary["band_high"], summary["band_pooled"])
            ],
        }
    )
    return shown.to_markdown(index=False)


def precision_markdown(checked: pd.DataFrame) -> str:
    """The held-out error per precision: how far off the projection was, whatever the regime."""
    off = (checked["ratio"] - 1).abs()
    rows = [
        {
            "precision": name,
            "held-out points": len(group),
            "median abs(measured / projected - 1)": _percent(off[group.index].median()),
            "worst": _percent(off[group.index].max()),
        }
        for name, group in checked.groupby("precision")
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


def points_markdown(checked: pd.DataFrame) -> str:
    shown = pd.DataFrame(
        {
            "source": checked["source"],
            "model": checked["card"],
            "GPU": checked["gpus"].astype(str) + " x " + checked["gpu"].astype(str),
            "precision": checked["precision"],
            "regime": checked["regime"],
            "batch": checked["projected_batch"],
            "measured": checked["measured_tok_s"].map("{:,.0f}".format),
            "projected": checked["projected_tok_s"].map("{:,.0f}".format),
            "measured / projected": checked["ratio"].map(_ratio),
            "band checked": [
                "not testable" if pd.isna(lo) else f"{lo:.2f} to {hi:.2f}" + (" (pooled)" if pooled else "")
                for lo, hi, pooled in zip(checked["check_low"], checked["check_high"], checked["check_pooled"])
            ],
            "inside": checked["inside"].map({True: "yes", False: "no", None: "-"}),
        }
    )
    return shown.to_markdown(index=False)


def by_calibration(checked: pd.DataFrame) -> str:
    """Each calibration's coverage and median half-width: the overall median hides how far apart they are."""
    parts = []
    for gpu, group in checked.groupby("calibration"):
        total = totals(group)
        inside = int(group["inside"].astype("boolean").sum())  # None (not testable) counts as not inside
        parts.append(
            f"{gpu} {inside} of {total['testable']} inside ({_percent(total['coverage'])}), median half-width "
            f"{_percent(total['median_half_width'])}"
        )
    return "; ".join(parts)


def held_out_markdown(checked: pd.DataFrame, shipped: list[Band], calibrations: dict[str, Calibration]) -> str:
    total = totals(checked)
    met = total["coverage"] >= TARGET_COVERAGE and total["median_half_width"] <= TARGET_HALF_WIDTH
    fp8 = "; ".join(
        f"{gpu}: FP8 efficiency = BF16's x {c.precision_factor['fp8']:.2f}"
        for gpu, c in calibrations.items()
        if "fp8" in c.precision_factor
    )
    return "\n".join(
        [
            "<!-- Written by `python -m tokencost.analysis.bands`; do not edit. -->",
            "# Held-out error by regime",
            "",
            f"{total['points']} published points the serving model was not fitted on; {total['testable']} of them "
            f"testable against the band their regime gets (its own, or its calibration's pool) without their own series. "
            f"{_percent(total['coverage'])} of those lie inside it, median band half-width "
            f"{_percent(total['median_half_width'])} (target: {TARGET_COVERAGE:.0%} inside, half-width at most "
            f"{TARGET_HALF_WIDTH:.0%}: {'met' if met else 'NOT met'}).",
            "",
            "By calibration: " + by_calibration(checked) + ".",
            "",
            "Sources (see data/calibration/README.md): "
            + "; ".join(
                f"{name}: {n} point{'s' * (n != 1)}" for name, n in checked.groupby("source", sort=False).size().items()
            )
            + ".",
            "",
            f"Bands are measured / projected output tok/s, split-conformal at {LEVEL:.0%}: exp(+/-q), q the "
            f"k-th smallest abs(log(measured / projected)) of the n held-out points, k = ceil((n + 1) x {LEVEL}) "
            f"(n >= {MIN_POINTS}); a projection's low and high are the projection times them. A regime whose points "
            f"come from fewer than {MIN_SERIES} series, or number fewer than {MIN_POINTS}, takes the band of every "
            "BF16 regime of its calibration pooled (marked pooled); a borrowed calibration and a precision other "
            "than BF16 are not pooled. Each point is checked against the band made the same way without its own "
            "series (source, model, GPU and GPU count).",
            "",
            summary_markdown(checked, shipped),
            "",
            "By precision (every held-out point, whatever its regime):",
            "",
            precision_markdown(checked),
            "",
            f"FP8: {fp8 or 'no FP8 fit'} (fitted on {FP8_FIT[0]} vLLM {FP8_FIT[1]}, its FP8 row not held out). "
            "With one held-out FP8 series there is no FP8 band: an FP8 projection's band is "
            f"assumed, {ASSUMED_FACTOR:g} x the BF16 band of its regime.",
            "",
            "Where a regime has no band, a projection says so and its error_band falls back to the calibration's "
            "worst held-out error on the LMArena chat points: "
            + "; ".join(
                f"{gpu} " + ", ".join(f"{kind} +/-{e:.0%}" for kind, e in c.held_out_error.items())
                for gpu, c in calibrations.items()
            )
            + ".",
            "",
            "## Every held-out point",
            "",
            points_markdown(checked),
            "",
        ]
    )


def bands_toml(shipped: list[Band]) -> str:
    lines = []
    for band in shipped:
        lines += [
            "[[band]]",
            f'gpu = "{band.gpu}"',
            f'regime = "{band.regime}"',
            f"low = {band.low:.6f}",
            f"high = {band.high:.6f}",
            f"points = {band.points}",
            f"pooled = {'true' if band.pooled else 'false'}",
            "",
        ]
    return "\n".join(lines)


@cache
def shipped_bands() -> dict[tuple[str, str], Band]:
    import tomllib

    data = tomllib.loads(resources.files("tokencost").joinpath(FITTED).read_text())
    return {
        (b["gpu"], b["regime"]): Band(b["gpu"], b["regime"], b["low"], b["high"], b["points"], pooled=b["pooled"])
        for b in data.get("band", [])
    }


def band_for(gpu: str, point: Point) -> Band | None:
    """The shipped band of `point`'s regime for the calibration fitted on `gpu`; for a precision without held-out
    points of its own, BF16's band of its BF16 regime widened (assumed); None where no regime has held-out data."""
    name = regime(point)
    found = shipped_bands().get((gpu, name))
    if found is not None or point.precision == "bf16" or point.borrowed:
        return found
    bf16 = shipped_bands().get((gpu, regime(replace(point, precision="bf16"))))
    return None if bf16 is None else bf16.widened(point.precision)


def write(
    calibrations: dict[str, Calibration], catalog: list[HardwareEntry], appendix: str = ""
) -> tuple[str, list[Band]]:
    """The held-out document (and `appendix`) and the bands, from `calibrations`; the doc is written beside the
    data."""
    errors = held_out_errors(calibrations, catalog)
    shipped = bands(errors)
    text = held_out_markdown(coverage(errors), shipped, calibrations) + (f"\n{appendix}\n" if appendix else "")
    Path(__file__).parent.parent.joinpath(HELD_OUT_DOC).write_text(text)
    return text, shipped


def main() -> int:
    """Refit the calibrations on the committed chat points, the FP8 factor on its pair, and the bands on the
    held-out points; write fitted.toml and held-out.md."""
    points = measurements()
    catalog = load_catalog()
    fits = [fit_fp8(c, all_points(), catalog) for c in fitted(points, catalog)]
    path = Path(__file__).parent.parent.joinpath(FITTED)
    path.write_text(fitted_toml(fits, len(points)))
    shipped_calibrations.cache_clear()  # the bands are set on the calibrations as shipped, rounded as written
    calibrations = shipped_calibrations()
    tables = [
        f"### {gpu}: every ML.ENERGY LMArena chat point (ratio: projected / measured)\n\n"
        + readme_table(comparison(points[points["gpu"] == gpu], calibration, catalog))
        for gpu, calibration in calibrations.items()
    ]
    text, shipped = write(calibrations, catalog, "\n\n".join(tables))
    path.write_text(fitted_toml(fits, len(points)) + "\n" + bands_toml(shipped))
    shipped_bands.cache_clear()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
