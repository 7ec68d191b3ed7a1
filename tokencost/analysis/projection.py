"""Projections: tokens/s and $/M on hardware the user does not have. Always labelled projected.

By default the serving model (tokencost.pricing.serving_model) is calibrated
against published measurements of vLLM on the same GPU (tokencost.analysis.calibration),
and every row carries its regime (tokencost.analysis.regimes) and that regime's band,
set on published measurements the model was not fitted on (tokencost.analysis.bands):
projected_output_tok_s_low and _high. A regime without held-out data says so, and its
row falls back to the calibration's overall held-out error, labelled as such. An
efficiency may instead come from the user's own measured run, on a GPU only: a CPU's
efficiency says nothing about a GPU's. Batches whose KV cache does not fit are not projected.

A precision arm other than BF16 (FP8 weights, an FP8 KV cache) is projected with
its own bytes and peak (tokencost.pricing.roofline). Where a published measurement in
that precision was fitted (FP8 weights on H100), its efficiency is BF16's times the
fitted factor; elsewhere BF16's efficiency is applied, uncalibrated. Either way, without
held-out points of its own its band is UNCALIBRATED_BAND_FACTOR times the BF16 band of
the point's regime, an assumption stated in every row's band_basis, not a validated band.
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import load_card
from bench.inputs.precision import BF16, Precision
from bench.run.records import RECORDS_FILE, has_records, read_records
from tokencost.analysis.bands import ASSUMED_FACTOR, HELD_OUT_DOC, MIN_POINTS, MIN_SERIES, Band, band_for
from tokencost.analysis.calibration import calibration_for
from tokencost.analysis.regimes import Point, regime, saturated
from tokencost.analysis.service_level import METHOD as SERVICE_METHOD
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok
from tokencost.pricing.precision import describe, support
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.roofline import required_figures
from tokencost.pricing.serving_model import kv_sequences, project_throughput, time_to_first_token_s
from tokencost.pricing.table import TOKEN_BASIS

GPU_COUNTS = (1, 2, 4, 8)  # the GPUs of one node a model is spread over, by tensor parallelism
# A precision without held-out measurements of its own: its band this many times BF16's band of the same regime,
# since FP8 kernels reach a different share of their roofline than BF16's, by an amount no held-out point measured.
UNCALIBRATED_BAND_FACTOR = ASSUMED_FACTOR
BANDS_DOC = f"tokencost/{HELD_OUT_DOC}"


def measured_efficiency(
    run_dir: Path, pricing: Pricing, kind: str, engine: str = "vllm", precision: str = "bf16"
) -> tuple[float, str]:
    """Median measured/ceiling output tok/s of a run's GPU points of one model kind on `engine` in one precision
    (a record that does not say is taken as BF16), and its source."""
    if not has_records(run_dir):
        raise UserError(
            "--efficiency", f"{run_dir} has no {RECORDS_FILE}", "give a run directory written by `tokencost run`"
        )
    priced = pricing.price(read_records(run_dir)).offline
    chosen = priced[(priced["engine"] == engine) & priced["roofline_fraction"].notna()]
    precisions = chosen["precision"].fillna("bf16")
    in_precision = precisions == precision
    if not chosen.empty and not in_precision.any():
        raise UserError(
            "--efficiency",
            f"{run_dir} has no {precision} point (it measured {', '.join(sorted(precisions.unique()))})",
            "give a run measured in the precision projected, or leave --efficiency out",
        )
    chosen = chosen[in_precision]
    if chosen.empty:
        raise UserError(
            "--efficiency",
            f"{run_dir} has no {engine} point with a roofline",
            "use a run whose hardware has bandwidth and FLOPS figures in the catalog",
        )
    if chosen["hardware"].astype(str).str.startswith("cpu").all():
        raise UserError(
            "--efficiency",
            f"{run_dir} was measured on CPUs: a CPU's efficiency does not carry to a GPU",
            "use a run measured on a GPU, or leave --efficiency out to use the published calibration",
        )
    chosen = chosen[~chosen["hardware"].astype(str).str.startswith("cpu") & (chosen["roofline_fraction"] <= 1)]
    if chosen.empty:  # above the ceiling, a point proves the hardware figures wrong, not the engine efficient
        raise UserError(
            "--efficiency",
            f"{run_dir}'s GPU points all measured above their ceiling",
            "check the run's hardware figures (--hardware), or leave --efficiency out",
        )
    same_kind = chosen[chosen["kind"] == kind]
    note = (
        ""
        if not same_kind.empty
        else f" (no {kind} point: taken from {', '.join(sorted(chosen['kind'].unique()))} models)"
    )
    fractions = (same_kind if not same_kind.empty else chosen)["roofline_fraction"]
    return float(fractions.median()), f"median of {len(fractions)} {engine} points in {run_dir}{note}"


def fewest_gpus(card, entry, isl: int, osl: int, counts=GPU_COUNTS, precision: Precision = BF16) -> int | None:
    """The fewest GPUs of `counts` that hold the weights and one sequence's KV cache at these lengths: the fit
    `project` checks (batches up to the KV cache's capacity are projected, none if it holds no sequence)."""
    for count in counts:
        figures = required_figures(entry, count, precision)
        if kv_sequences(card, figures, count, isl + osl / 2, precision=precision) >= 1:
            return count
    return None


def counts_that_fit(card, entry, isl: int, osl: int, counts=GPU_COUNTS, precision: Precision = BF16) -> list[int]:
    """Every GPU count of `counts` that holds the model at these lengths: from the fewest (fewest_gpus) up."""
    fewest = fewest_gpus(card, entry, isl, osl, counts, precision)
    return [] if fewest is None else [n for n in counts if n >= fewest]


SAME_EFFICIENCY = "each GPU at the calibrated 1-GPU efficiency (an assumption)"
COLLECTIVES_FITTED = "the collectives' latency and bandwidth fitted on ML.ENERGY's 2 x H100 points"
EXTRAPOLATED = "4 and 8 GPUs extrapolated from 2 (an assumption: none is calibrated)"
PARALLELISM = {
    "dense": "tensor parallel, 2 all-reduces a layer",
    "moe": "expert parallel, 2 all-to-alls a sparse layer",
}


def multi_gpu_method(kind: str, gpus: int) -> str:
    """How a projection on several GPUs is made, and what in it is assumed; empty for one GPU."""
    if gpus <= 1:
        return ""
    beyond = f"; {EXTRAPOLATED}" if gpus > 2 else ""
    return f"on {gpus} GPUs: {PARALLELISM.get(kind, PARALLELISM['dense'])}; {SAME_EFFICIENCY}, {COLLECTIVES_FITTED}{beyond}"


def band_words(point: Point, band: Band | None, overall: float | None) -> str:
    """The row's band in words: the band (measured / projected) and whether it was held out, or that none was;
    `overall` is the fallback error_band (widened for a precision other than BF16: fallback_band)."""
    if band is None:
        widened = (
            "" if point.precision == "bf16" else f", x {UNCALIBRATED_BAND_FACTOR:g} for {point.precision} (ASSUMED)"
        )
        fallback = (
            ""
            if overall is None
            else f"; error_band: the calibration's overall held-out error{widened} +/-{overall:.0%}"
        )
        return (
            f"no held-out data for this regime ({regime(point)}: a band needs {MIN_POINTS} points from {MIN_SERIES} "
            f"series){fallback}"
        )
    if band.assumed:
        return (
            f"{band.low:.2f}-{band.high:.2f} x projected, ASSUMED: {UNCALIBRATED_BAND_FACTOR:g} x the BF16 band of "
            "the regime, not validated"
        )
    pool = f", pooled over {band.gpu}'s BF16 regimes (too few series here)" if band.pooled else ""
    return f"{band.low:.2f}-{band.high:.2f} x projected, held out on {band.points} points{pool} ({BANDS_DOC})"


def fallback_band(overall: float | None, precision: Precision) -> float | None:
    """A row's error_band where its regime has no held-out band: the calibration's overall held-out error (BF16),
    widened as an uncalibrated precision's band is."""
    return overall if overall is None or precision.is_default else overall * UNCALIBRATED_BAND_FACTOR


def project(
    model: str,
    gpu: str,
    gpus: int,
    batch_sizes,
    isl: int,
    osl: int,
    pricing: Pricing,
    efficiency: float | None = None,
    efficiency_source: str = "",
    precision: Precision = BF16,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per batch that fits, and notes (batches left out, calibration caveats)."""
    card = load_card(model)
    hardware = find_hardware(gpu, pricing.catalog)
    how = support(hardware, precision)
    if how.why_not:
        raise UserError("--precision", how.why_not, "project it onto a GPU that has them, or give another precision")
    figures = required_figures(hardware, gpus, precision)
    calibration, note = calibration_for(hardware)
    notes = [note] if note else []
    overall = fallback_band(calibration.held_out_error.get(card.kind), precision)
    banded = efficiency is None
    fitted_factor = calibration.precision_factor.get(precision.name)
    if efficiency is not None:
        # a measured roofline fraction holds the step's overhead and the precision already
        calibration = replace(
            calibration,
            efficiency={**calibration.efficiency, card.kind: efficiency},
            step_overhead_s=0.0,
            sequence_overhead_s=0.0,
            precision_factor={},
        )
        method = f"roofline x {efficiency:.1%} efficiency ({efficiency_source}), no held-out error"
    elif precision.is_default:
        method = f"serving model calibrated on {calibration.fitted_on} (vLLM, ML.ENERGY v3), band by regime"
    elif fitted_factor is not None:
        method = (
            f"serving model calibrated on {calibration.fitted_on} (vLLM, ML.ENERGY v3), {precision.name} efficiency "
            f"= BF16's x {fitted_factor:.2f}, fitted on one published {precision.name} measurement"
        )
        notes.append(
            f"{precision.name}: efficiency fitted on one published {precision.name} measurement ({BANDS_DOC}); "
            f"no held-out {precision.name} band yet, so its band is assumed: {UNCALIBRATED_BAND_FACTOR:g} x the BF16 "
            "band of the point's regime"
        )
    else:
        method = (
            f"serving model calibrated on {calibration.fitted_on} in BF16 (vLLM, ML.ENERGY v3), UNCALIBRATED for "
            f"{precision.name}: BF16's efficiency applied"
        )
        notes.append(
            f"{precision.name} is projected with the calibration fitted on BF16 measurements: no {precision.name} "
            f"measurement was fitted, so its band ({UNCALIBRATED_BAND_FACTOR:g} x BF16's of the regime) is an "
            "assumption, not a held-out error"
        )
    if how.weight_only:
        notes.append(
            f"{hardware.key} has no {precision.weights.upper()} tensor cores: {precision.weights.upper()} weights "
            f"run weight-only there (read in {precision.weights.upper()}, multiplied at the BF16 peak)"
        )
    arm = "" if precision.is_default else f"; {describe(hardware, precision)}"
    cost = hourly_cost(gpus, hardware, gpus * hardware.tdp_w, pricing.assumptions)
    projections = [
        project_throughput(card, figures, gpus, batch, isl, osl, calibration, precision=precision)
        for batch in batch_sizes
    ]
    max_batch = projections[0].max_batch if projections else 0
    too_big = [p.batch for p in projections if not p.fits]
    if max_batch == 0:
        notes.append(
            f"{card.name} does not fit {gpus} x {hardware.key} at all: its weights leave no room for a KV cache"
        )
    elif too_big:
        notes.append(
            f"batch {', '.join(map(str, too_big))} not projected: the KV cache of {gpus} x {hardware.key} "
            f"holds {max_batch} sequences of {card.name} at {isl}+{osl} tokens"
        )
        if max_batch not in batch_sizes:
            projections.append(
                project_throughput(card, figures, gpus, max_batch, isl, osl, calibration, precision=precision)
            )
    rows = []
    multi = f"; {multi_gpu_method(card.kind, gpus)}" if gpus > 1 else ""
    if max_batch:
        notes.append(f"per user: {SERVICE_METHOD}")
    for p in sorted((p for p in projections if p.fits and p.batch > 0), key=lambda p: p.batch):
        point = Point(
            borrowed=bool(note),
            precision=precision.name,
            gpus=gpus,
            batch=p.batch,
            saturated=saturated(p.batch, p.max_batch),
            isl=isl,
            osl=osl,
            average_context=isl + osl / 2,
        )
        band = band_for(calibration.fitted_on, point) if banded else None
        rows.append(
            {
                "model": card.name,
                "hardware": hardware.key,
                "gpus": gpus,
                "batch_size": p.batch,
                "isl": isl,
                "osl": osl,
                "max_batch": p.max_batch,
                "decode_bound": p.ceiling.decode_bound,
                "ceiling_output_tok_s": p.ceiling.bound_output_tok_s,
                "roofline_expected_tok_s": p.ceiling.output_tok_s,  # an MoE's uniform routing; the ceiling for dense
                "projected_output_tok_s": p.output_tok_s,
                "projected_output_tok_s_low": p.output_tok_s * band.low if band else None,
                "projected_output_tok_s_high": p.output_tok_s * band.high if band else None,
                "regime": regime(point),
                "tok_s_per_user": p.tok_s_per_user,
                "ttft_ms": 1000 * time_to_first_token_s(card, figures, isl, osl, calibration, p, precision=precision),
                "error_band": band.envelope if band else overall if banded else None,
                "projected_total_per_mtok_usd": usd_per_mtok(cost.total, p.total_tok_s),
                "token_basis": TOKEN_BASIS,  # what projected_total_per_mtok_usd counts
                "precision": precision.name,
                "band_basis": band_words(point, band, overall) if banded else "no band: a given efficiency",
                "label": f"projected: {method}{arm}{multi}; power = TDP (estimated); $ from '{pricing.assumptions.name}'",
            }
        )
    return pd.DataFrame(rows), notes
