"""The published GPU cost table: projections with their error bands, beside others' GPU measurements priced alike.

Built from committed inputs only (the folder's inputs.toml, the model cards, the catalog, the presets, the
calibration and its published measurements), so anyone can rebuild it with `tokencost gpu-table DIR` and get
the same files. Two kinds of rows, never mixed up:

- projected (costs.csv): tokencost's serving model calibrated on published vLLM measurements
  (tokencost.analysis.calibration), at fixed prompt and output lengths, power at TDP, on every GPU count of
  one node (1, 2, 4, 8) that holds the model. Tokens are input + output tokens of all the GPUs serving the
  model; each row carries its regime and that regime's band, set on held-out published measurements
  (projected_output_tok_s_low/_high; tokencost.analysis.bands), its pace per user and its TTFT
  (tokencost.analysis.service_level). Batches: the inputs' batch sizes, the KV cache's maximum, and the
  largest batch that keeps each service-level tier (bench/inputs/tiers.toml).
- measured by ML.ENERGY, priced by tokencost (measured-by-others.csv): their steady-state output tok/s of all
  the GPUs and their measured GPU power (vLLM 0.11.1, BF16, LMArena chat), priced under the same presets.
  They publish output tokens only, so these rows have $/M output tokens (the whole hour charged to output
  tokens) and no total.

service-levels.csv answers each tier from the projected rows alone: per model, GPU and shape, the cheapest
GPU count and batch that keeps it, or that none does.
"""

import math
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import UserError
from bench.inputs.cards import load_card
from bench.inputs.precision import BF16, Precision
from bench.inputs.suite import MAX_IN_FLIGHT
from bench.inputs.text_files import read_user_text
from bench.inputs.tiers import shipped_tiers
from bench.inputs.workload import MAX_TOKENS
from bench.validation import parse
from tokencost.analysis.calibration import (
    comparison,
    measurements,
    shipped_calibrations,
)
from tokencost.analysis.projection import GPU_COUNTS, counts_that_fit, project
from tokencost.analysis.service_level import KV_MAXIMUM, cheapest_meeting, service_batches
from tokencost.pricing.assumptions import load_assumptions, preset_names
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.hourly import hourly_cost, usd_per_mtok
from tokencost.pricing.priced_runs import Pricing
from tokencost.publish.explorer import write_explorer
from tokencost.publish.gpu_answers import answers_markdown, summary_markdown
from tokencost.publish.gpu_precisions import precision_arm, runnable_arms, with_bf16_ratio
from tokencost.publish.gpu_tiers import MEASURED_BY
from tokencost.publish.peer_tables import peer_markdown, peer_rows

INPUTS = "inputs.toml"
PROJECTED_FILE, MEASURED_FILE, LEVELS_FILE = "costs.csv", "measured-by-others.csv", "service-levels.csv"
SOURCE_DATE = "2026-02-27"  # the leaderboard data's commit date (tokencost/data/calibration/README.md)
PROJECTED_TOKENS = "input + output tokens a second of all the GPUs serving the model"
MEASURED_TOKENS = "output tokens a second of the whole system (all its GPUs); input tokens not published"


@dataclass(frozen=True)
class TableInputs:
    models: list[str]
    gpus: list[str]
    shapes: list[tuple[int, int]]
    batch_sizes: list[int]
    presets: list[str]
    main_preset: str
    precisions: list[Precision] = field(default_factory=lambda: [BF16])


Name = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
Tokens = Annotated[int, Field(strict=True, ge=1, le=MAX_TOKENS)]

Names = Annotated[list[Name], Field(min_length=1, max_length=1000)]
Shape = Annotated[list[Tokens], Field(min_length=2, max_length=2)]  # [ISL, OSL]
Shapes = Annotated[list[Shape], Field(min_length=1, max_length=1000)]
BatchSize = Annotated[int, Field(strict=True, ge=1, le=MAX_IN_FLIGHT)]
BatchSizes = Annotated[list[BatchSize], Field(min_length=1, max_length=1000)]


class _Table(BaseModel):
    """inputs.toml's [table], validated as suites are: strict types (no bool, float or string read as a
    count), nothing unknown, nothing infinite."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)

    models: Names
    gpus: Names
    shapes: Shapes
    batch_sizes: BatchSizes
    presets: Names
    main_preset: Name
    precisions: Names = ["bf16"]  # precision arms (Precision.name: bf16, fp8, fp4, fp8-kv-fp8, ...)


class _InputsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table: _Table


def read_inputs(folder: Path) -> TableInputs:
    """The folder's inputs.toml, every value checked: a mistake is one line naming the file and the key."""
    path = Path(folder) / INPUTS
    fix = "give the folder that holds the table's inputs.toml"
    if not path.is_file() and not path.is_dir():
        raise UserError("DIR", f"{path} does not exist", fix)
    text = read_user_text(path, "DIR", "the table's inputs.toml", "save inputs.toml as UTF-8 TOML")
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise UserError(str(path), f"is not valid TOML ({e})", "fix the TOML") from None
    table = parse(_InputsFile, data, str(path)).table
    for key in ("models", "gpus", "presets", "batch_sizes", "precisions"):
        values = getattr(table, key)
        if duplicate := next((v for i, v in enumerate(values) if v in values[:i]), None):
            raise UserError(f"{path} table.{key}", f"lists {duplicate!r} twice", "list each once")
    for model in table.models:
        try:
            load_card(model)
        except UserError as e:
            raise UserError(f"{path} table.models", f"{model!r} cannot be used ({e})", "fix or replace it") from None
    catalog = load_catalog()
    for gpu in table.gpus:
        try:
            find_hardware(gpu, catalog)
        except UserError:
            known = ", ".join(e.key for e in catalog)
            raise UserError(f"{path} table.gpus", f"{gpu!r} is not in the hardware catalog", f"use: {known}") from None
    for preset in table.presets:
        if preset not in preset_names():
            raise UserError(f"{path} table.presets", f"{preset!r} is not a preset", f"use: {', '.join(preset_names())}")
    if table.main_preset not in table.presets:
        raise UserError(
            f"{path} table.main_preset", f"{table.main_preset!r} is not among presets", "list it in presets"
        )
    precisions = [precision_arm(name, f"{path} table.precisions") for name in table.precisions]
    return TableInputs(
        models=list(table.models),
        gpus=list(table.gpus),
        shapes=[(isl, osl) for isl, osl in table.shapes],
        batch_sizes=sorted(table.batch_sizes),
        presets=list(table.presets),
        main_preset=table.main_preset,
        precisions=precisions,
    )


def batch_rule(batch: int, grid: list[int], found: dict[str, int]) -> str:
    """Why a batch is projected: one of the inputs' batch sizes, the KV cache's maximum, the largest that keeps
    a tier (or several of these)."""
    tiers = [name for name, b in found.items() if b == batch and name != KV_MAXIMUM]
    reasons = [
        "inputs.toml batch_sizes" if batch in grid else "",
        KV_MAXIMUM if found.get(KV_MAXIMUM) == batch else "",
        f"largest keeping {', '.join(tiers)}" if tiers else "",
    ]
    return "; ".join(r for r in reasons if r)


def projected_rows(inputs: TableInputs, catalog) -> pd.DataFrame:
    pricing = Pricing.of(load_assumptions(inputs.main_preset), catalog)
    tiers = shipped_tiers()
    rows = []
    for model, gpu, precision in runnable_arms(inputs, catalog):
        card = load_card(model)
        entry = find_hardware(gpu, catalog)
        for (isl, osl), count in (
            (shape, count)
            for shape in inputs.shapes
            for count in counts_that_fit(card, entry, *shape, precision=precision)
        ):
            found = service_batches(card, entry, count, isl, osl, tiers, precision)
            batches = sorted(set(inputs.batch_sizes) | set(found.values()))
            table, notes = project(model, gpu, count, batches, isl, osl, pricing, precision=precision)
            borrowed = next((n for n in notes if n.startswith("calibration fitted on")), "")
            for row in table.to_dict("records"):
                rows.append(
                    {
                        "basis": "projected",
                        "mode": "offline",
                        "engine": "vllm",
                        "model": model,
                        "kind": card.kind,
                        "hardware": entry.key,
                        "accelerator_count": count,
                        "batch_size": row["batch_size"],
                        "batch_rule": batch_rule(row["batch_size"], inputs.batch_sizes, found),
                        "max_batch": row["max_batch"],
                        "isl": isl,
                        "osl": osl,
                        "output_tok_s": row["projected_output_tok_s"],
                        "projected_output_tok_s_low": row["projected_output_tok_s_low"],
                        "projected_output_tok_s_high": row["projected_output_tok_s_high"],
                        "regime": row["regime"],
                        "band_basis": row["band_basis"],
                        "total_tok_s": row["projected_output_tok_s"] * (isl + osl) / osl,
                        "tok_s_per_user": row["tok_s_per_user"],
                        "ttft_ms": row["ttft_ms"],
                        "power_w": count * entry.tdp_w,
                        "error_band": row["error_band"],
                        "precision": precision.name,
                        "token_definition": PROJECTED_TOKENS,
                        "label": row["label"].split("; $ from")[0] + (f"; {borrowed}" if borrowed else ""),
                    }
                )
    return pd.DataFrame(rows)


def measured_rows(catalog) -> pd.DataFrame:
    points = measurements()
    rows = []
    for gpu, calibration in shipped_calibrations().items():
        chosen = points[points["gpu"] == gpu]
        projected = comparison(chosen, calibration, catalog)
        for (_, point), (_, check) in zip(chosen.iterrows(), projected.iterrows()):
            rows.append(
                {
                    "basis": "measured by ML.ENERGY",
                    "mode": "offline",
                    "engine": "vllm",
                    "model": point["card"],
                    "kind": load_card(point["card"]).kind,
                    "hardware": gpu,
                    "accelerator_count": point["gpus"],
                    "batch_size": point["max_num_seqs"],
                    "in_flight": point["avg_batch_size"],
                    "osl": round(point["avg_output_len"]),
                    "output_tok_s": point["output_tok_s"],
                    "tok_s_per_user": 1000 / point["median_itl_ms"],  # as the tiers read it: 1000 / TPOT
                    "projected_tok_s_per_user": check["projected_tok_s"] / max(1, round(point["avg_batch_size"])),
                    "power_w": point["avg_power_w"],
                    "measured_j_per_output_token": point["j_per_output_token"],
                    "projected_output_tok_s": check["projected_tok_s"],
                    "projected_over_measured": check["ratio"],
                    "error_band": calibration.held_out_error[check["kind"]],
                    "precision": "bf16",
                    "token_definition": MEASURED_TOKENS,
                    "source": calibration.source,
                    "date": SOURCE_DATE,
                    "label": f"{MEASURED_BY}; vLLM 0.11.1, BF16, LMArena chat, steady state, output tokens of all GPUs, "
                    "GPU power measured, tok/s per user = 1000 / median inter-token latency",
                }
            )
    return pd.DataFrame(rows)


def priced(rows: pd.DataFrame, inputs: TableInputs, catalog) -> pd.DataFrame:
    """$/M output tokens (and total tokens where known) under every preset; the main preset's also as
    total_per_mtok_usd, the column `tokencost compare` reads."""
    rows = rows.copy()
    for preset in inputs.presets:
        assumptions = load_assumptions(preset)
        hourly, capital_share = [], []
        for row in rows.to_dict("records"):
            entry = find_hardware(row["hardware"], catalog)
            nodes = row.get("nodes")
            try:
                cost = hourly_cost(
                    row["accelerator_count"],
                    entry,
                    row["power_w"],
                    assumptions,
                    nodes=1 if nodes is None or pd.isna(nodes) else int(nodes),
                )
            except UserError:  # a rate or price the catalog or preset does not have for this GPU
                hourly.append(math.nan)
                capital_share.append(math.nan)
                continue
            hourly.append(cost.total)
            capital_share.append(cost.shares()["capital"])
        rows[f"usd_per_h {preset}"] = hourly
        rows[f"capital_share {preset}"] = capital_share
        rows[f"usd_per_m_output {preset}"] = [h / (t * 3600 / 1e6) for h, t in zip(hourly, rows["output_tok_s"])]
        rows[f"usd_per_m_total {preset}"] = [
            usd_per_mtok(h, t) if pd.notna(t) and pd.notna(h) else math.nan
            for h, t in zip(hourly, rows.get("total_tok_s", pd.Series(math.nan, index=rows.index)))
        ]
    main = inputs.main_preset
    rows["total_per_mtok_usd"] = rows[f"usd_per_m_total {main}"].where(
        rows[f"usd_per_m_total {main}"].notna(), rows[f"usd_per_m_output {main}"]
    )
    rows["j_per_output_token"] = rows["power_w"] / rows["output_tok_s"]
    rows["tok_s_per_gpu"] = rows["output_tok_s"] / rows["accelerator_count"]
    return rows


def build(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The projected rows and the rows measured by others, each priced under every preset: two tables, one
    basis each."""
    inputs = read_inputs(folder)
    catalog = load_catalog()
    projected = projected_rows(inputs, catalog)
    if projected.empty:
        raise UserError(
            f"{Path(folder) / INPUTS} shapes",
            f"no model of models fits {' or '.join(map(str, GPU_COUNTS))} of any GPU of gpus at any of the shapes",
            "give shorter shapes, GPUs with more memory, or smaller models",
        )
    order = ["model", "hardware", "precision", "accelerator_count", "isl", "osl", "batch_size"]

    def tidy(rows: pd.DataFrame) -> pd.DataFrame:
        return priced(rows, inputs, catalog).sort_values(
            [c for c in order if c in rows], kind="stable", ignore_index=True
        )

    return with_bf16_ratio(tidy(projected), inputs.main_preset), tidy(measured_rows(catalog))


def service_levels(projected: pd.DataFrame, inputs: TableInputs) -> pd.DataFrame:
    """Per model, GPU and shape, the cheapest projected GPU count and batch with no latency limit and at each
    shipped tier, priced under every preset, or that no projected point keeps the tier."""
    main = f"usd_per_m_total {inputs.main_preset}"
    carry = [
        "error_band",
        "max_batch",
        "batch_rule",
        "output_tok_s",
        f"usd_per_m_output {inputs.main_preset}",
        *(f"usd_per_m_total {preset}" for preset in inputs.presets),
    ]
    keys = ["basis", "model", "kind", "hardware", "precision", "isl", "osl"]
    return cheapest_meeting(projected, shipped_tiers(), main, keys, [*carry, "label"])


def write(folder: Path, out_dir: Path | None = None) -> list[Path]:
    """Rebuild the table's files from `folder`'s inputs.toml, into `out_dir` (default: `folder` itself); a
    folder other than `folder` gets a copy of inputs.toml too, so it rebuilds alike."""
    folder = Path(folder)
    out_dir = folder if out_dir is None else Path(out_dir)
    inputs = read_inputs(folder)
    projected, measured = build(folder)
    catalog = load_catalog()
    peers = {
        peer: rows if rows.empty else priced(rows, inputs, catalog) for peer, rows in peer_rows(inputs, catalog).items()
    }
    names = (PROJECTED_FILE, MEASURED_FILE, *(peer.file for peer in peers), LEVELS_FILE, "report.md", "summary.md")
    files = {name: out_dir / name for name in names}
    written = list(files.values())
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if out_dir.resolve() != folder.resolve():
            shutil.copyfile(folder / INPUTS, out_dir / INPUTS)
            written.append(out_dir / INPUTS)
        projected.to_csv(files[PROJECTED_FILE], index=False, float_format="%.6g")
        measured.to_csv(files[MEASURED_FILE], index=False, float_format="%.6g")
        for peer, rows in peers.items():
            rows.to_csv(files[peer.file], index=False, float_format="%.6g")
        projected = pd.read_csv(files[PROJECTED_FILE])  # what the files say is what the report says
        service_levels(projected, inputs).to_csv(files[LEVELS_FILE], index=False, float_format="%.6g")
        levels = pd.read_csv(files[LEVELS_FILE])
        table = pd.concat([projected, pd.read_csv(files[MEASURED_FILE])], ignore_index=True)
        files["report.md"].write_text(answers_markdown(table, levels, inputs, peer_markdown(peers, inputs.main_preset)))
        files["summary.md"].write_text(summary_markdown(table, levels, inputs))
        written.append(write_explorer(out_dir, projected, pd.read_csv(files[MEASURED_FILE]), inputs.main_preset))
    except OSError as e:
        raise UserError(
            "DIR" if out_dir == folder else "--out",
            f"{out_dir} cannot be written ({e.strerror or e})",
            "give a folder you may write",
        ) from None
    return written
