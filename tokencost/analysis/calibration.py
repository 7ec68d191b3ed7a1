"""Calibrating projections against published GPU measurements, and how far off they are.

The measurements are ML.ENERGY's (data/calibration/mlenergy_v3_lm_arena_chat.csv,
see the README beside it): vLLM 0.11.1 serving LMArena chat conversations at a
fixed max_num_seqs, steady-state output tok/s. For each GPU, the serving model's
parameters (tokencost.pricing.serving_model) are fitted by least squares on the
log ratio, on part of the points:

- dense: every Llama-3.1-8B point (1 GPU) and every third Qwen3-32B point, on 1 and on 2 GPUs (two model
  sizes, so a step's fixed overhead and the efficiency can be told apart);
- MoE: every other Qwen3-30B-A3B point, on 1 and on 2 GPUs.

Every other point is held out: Qwen3-8B (a model the fit never saw) and the
remaining Qwen3-32B and Qwen3-30B-A3B points. tokencost.analysis.bands holds the
held-out points, and other published ones, against bands by regime. The projection is made at the
in-flight batch the source measured (its avg_batch_size), so the comparison
tests the throughput model; the memory limit is compared separately where the
source's batch was capped by memory.

The prompt length of the LMArena conversations is not published with the data;
PROMPT_TOKENS is our assumption. The output lengths vary, so a decode step's mean
context is the prompt plus E[O^2]/2E[O] of the model's output-length histogram
(output_tail_context), not half the mean output.

`python -m tokencost.analysis.bands` refits, rewrites data/calibration/fitted.toml and
data/calibration/held-out.md (the tables docs/calibration.md links), and prints the latter.
"""

import tomllib
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from bench.errors import UserError
from bench.inputs.cards import load_card
from tokencost.pricing.catalog import HardwareEntry, find_hardware
from tokencost.pricing.roofline import required_figures
from tokencost.pricing.serving_model import Calibration, project_throughput

PROMPT_TOKENS = 600  # assumed mean prompt of an LMArena request (conversation so far), not published
DATA = "data/calibration/mlenergy_v3_lm_arena_chat.csv"
FITTED = "data/calibration/fitted.toml"
SOURCE = (
    "ML.ENERGY Leaderboard v3 (github.com/ml-energy/leaderboard @0cd52dab, 2026-02-27, "
    "public/data/tasks/lm-arena-chat.json): vLLM 0.11.1, BF16, steady-state output tok/s"
)
MEMORY_CAPPED = 0.95  # a point whose in-flight batch stayed below this share of max_num_seqs hit the KV limit
TARGET_ERROR = 0.20  # the held-out error we aim for; H100 meets it, B200's dense models do not (see held-out.md)


def measurements() -> pd.DataFrame:
    return pd.read_csv(resources.files("tokencost").joinpath(DATA).open())


def training_rows(points: pd.DataFrame) -> pd.Series:
    """True for the points the fit uses; see the module docstring for the rule."""
    order = points.groupby(["gpu", "card", "gpus"]).cumcount()
    every_other, every_third = order % 2 == 0, order % 3 == 0
    return (
        (points["card"] == "llama-3.1-8b")
        | ((points["card"] == "qwen3-32b") & every_third)
        | ((points["card"] == "qwen3-30b-a3b") & every_other)
    )


def _project(row, calibration: Calibration, catalog: list[HardwareEntry], batch: float | None = None):
    card = load_card(row["card"])
    hardware = required_figures(find_hardware(row["gpu"], catalog), row["gpus"])
    in_flight = max(1, round(row["avg_batch_size"] if batch is None else batch))
    osl = max(1, round(row["avg_output_len"]))
    return project_throughput(
        card,
        hardware,
        int(row["gpus"]),
        in_flight,
        PROMPT_TOKENS,
        osl,
        calibration,
        average_context=PROMPT_TOKENS + row["output_tail_context"],
    )


def _calibration(x, gpu: str, held_out=None) -> Calibration:
    dense, moe, overhead_ms, per_seq_us, latency_us, bandwidth_gb_s = x
    return Calibration(
        key=f"vllm-{gpu}",
        engine="vllm",
        fitted_on=gpu,
        efficiency={"dense": dense, "moe": moe},
        collective_latency_s=latency_us * 1e-6,
        collective_bandwidth_bytes_s=bandwidth_gb_s * 1e9,
        held_out_error=held_out or {},
        source=SOURCE,
        step_overhead_s=overhead_ms * 1e-3,
        sequence_overhead_s=per_seq_us * 1e-6,
    )


def fit(
    points: pd.DataFrame, gpu: str, catalog: list[HardwareEntry], collectives_of: Calibration | None = None
) -> Calibration:
    """Least squares on log(projected / measured) over the training points of one GPU.

    A GPU measured on one GPU only cannot tell its collectives' cost: they come from `collectives_of`."""
    train = points[(points["gpu"] == gpu) & training_rows(points)]
    fixed = None if (train["gpus"] > 1).any() else collectives_of
    if fixed is None and not (train["gpus"] > 1).any():
        raise UserError(
            "calibration", f"{gpu} has no multi-GPU points", "give the calibration to take collectives from"
        )

    def params(x):
        if fixed is None:
            return x
        return [*x, fixed.collective_latency_s * 1e6, fixed.collective_bandwidth_bytes_s / 1e9]

    def residuals(x):
        calibration = _calibration(params(x), gpu)
        return [
            np.log(_project(row, calibration, catalog).output_tok_s / row["output_tok_s"])
            for _, row in train.iterrows()
        ]

    # efficiency (dense, MoE), the step's fixed overhead (ms) and its overhead a sequence (us), the collectives'
    # latency (us) and bandwidth (GB/s)
    start, low, high = [0.6, 0.6, 1.0, 5.0, 10.0, 50.0], [0.05, 0.05, 0, 0, 0, 1], [1, 1, 50, 1000, 1000, 10_000]
    n = 6 if fixed is None else 4
    solution = least_squares(residuals, start[:n], bounds=(low[:n], high[:n]))
    calibration = _calibration(params(solution.x), gpu)
    table = comparison(points[points["gpu"] == gpu], calibration, catalog)
    held = table[~table["trained"]]
    errors = {kind: float((group["ratio"] - 1).abs().max()) for kind, group in held.groupby("kind")}
    return _calibration(params(solution.x), gpu, errors)


def comparison(points: pd.DataFrame, calibration: Calibration, catalog: list[HardwareEntry]) -> pd.DataFrame:
    """Measured against projected output tok/s at every point, and the memory limit where the source hit it."""
    rows = []
    for (_, row), trained in zip(points.iterrows(), training_rows(points)):
        projection = _project(row, calibration, catalog)
        capped = row["avg_batch_size"] < MEMORY_CAPPED * row["max_num_seqs"]
        rows.append(
            {
                "model": row["card"],
                "kind": load_card(row["card"]).kind,
                "gpu": row["gpu"],
                "gpus": row["gpus"],
                "max_num_seqs": row["max_num_seqs"],
                "batch": round(row["avg_batch_size"], 1),
                "measured_tok_s": row["output_tok_s"],
                "projected_tok_s": projection.output_tok_s,
                "ratio": projection.output_tok_s / row["output_tok_s"],
                "trained": bool(trained),
                "memory_capped": bool(capped),
                "projected_max_batch": projection.max_batch if capped else None,
            }
        )
    return pd.DataFrame(rows)


@cache
def shipped_calibrations() -> dict[str, Calibration]:
    """The fitted calibrations shipped in data/calibration/fitted.toml, by the GPU they were fitted on."""
    data = tomllib.loads(resources.files("tokencost").joinpath(FITTED).read_text())
    return {
        gpu: Calibration(
            key=entry["key"],
            engine=entry["engine"],
            fitted_on=gpu,
            efficiency=dict(entry["efficiency"]),
            collective_latency_s=entry["collective_latency_s"],
            collective_bandwidth_bytes_s=entry["collective_bandwidth_bytes_s"],
            held_out_error=dict(entry["held_out_error"]),
            source=entry["source"],
            step_overhead_s=entry.get("step_overhead_s", 0.0),
            sequence_overhead_s=entry.get("sequence_overhead_s", 0.0),
            precision_factor=dict(entry.get("precision_factor", {})),
        )
        for gpu, entry in data.items()
        if gpu != "band"  # the bands by regime: tokencost.analysis.bands
    }


def calibration_for(
    hardware: HardwareEntry, calibrations: dict[str, Calibration] | None = None
) -> tuple[Calibration, str]:
    """The calibration to project `hardware` with (from `calibrations`, default the shipped ones), and a note when
    it was fitted on another GPU."""
    shipped = shipped_calibrations() if calibrations is None else calibrations
    if hardware.key in shipped:
        return shipped[hardware.key], ""
    if hardware.key.startswith("cpu"):
        raise UserError(
            "--gpu",
            f"{hardware.key} is not a GPU: calibrations are fitted on GPU measurements",
            "project onto a GPU, or measure the CPU with `tokencost run`",
        )
    nearest = "b200" if hardware.key.startswith(("b", "gb")) else "h100-sxm"
    return shipped[nearest], (
        f"calibration fitted on {nearest}, applied to {hardware.key} without measurements "
        f"of it: the error band is not validated there"
    )


def fitted_toml(calibrations: list[Calibration], points: int) -> str:
    lines = [
        "# Written by `python -m tokencost.analysis.bands` from mlenergy_v3_lm_arena_chat.csv; do not edit.",
        f"# {points} published points; prompt length assumed {PROMPT_TOKENS} tokens.",
        "",
    ]
    for c in calibrations:
        lines += [
            f"[{c.fitted_on}]",
            f'key = "{c.key}"',
            f'engine = "{c.engine}"',
            "efficiency = { " + ", ".join(f"{k} = {v:.4f}" for k, v in c.efficiency.items()) + " }",
            f"step_overhead_s = {c.step_overhead_s:.4e}",
            f"sequence_overhead_s = {c.sequence_overhead_s:.4e}",
            f"collective_latency_s = {c.collective_latency_s:.4e}",
            f"collective_bandwidth_bytes_s = {c.collective_bandwidth_bytes_s:.4e}",
            "held_out_error = { " + ", ".join(f"{k} = {v:.4f}" for k, v in c.held_out_error.items()) + " }",
            "precision_factor = { " + ", ".join(f'"{k}" = {v:.4f}' for k, v in c.precision_factor.items()) + " }",
            f'source = "{c.source}"',
            "",
        ]
    return "\n".join(lines)


def readme_table(table: pd.DataFrame) -> str:
    shown = table.assign(
        fit=table["trained"].map({True: "fit", False: "held out"}),
        measured=table["measured_tok_s"].map("{:,.0f}".format),
        projected=table["projected_tok_s"].map("{:,.0f}".format),
        ratio=table["ratio"].map("{:.2f}".format),
    )[["model", "gpus", "max_num_seqs", "batch", "measured", "projected", "ratio", "fit"]]
    return shown.to_markdown(index=False)


def fitted(points: pd.DataFrame, catalog: list[HardwareEntry]) -> list[Calibration]:
    """The calibrations the committed chat points give, H100's first."""
    h100 = fit(points, "h100-sxm", catalog)
    return [h100, fit(points, "b200", catalog, collectives_of=h100)]  # B200 was measured on one GPU only
