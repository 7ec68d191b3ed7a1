"""Peers' published measurements in the GPU table: rows measured by InferenceX and by MLPerf Inference submitters,
priced by tokencost, each in a table of its own and never ranked with projections.

The rows come from the committed copies in tokencost/data/published (its README and sources.toml name each file's
source, commit and date), read by the same importers as `tokencost price`. Each row carries its provenance: source,
commit or version, date, engine, precision, GPUs and their count, scenario and token definition. The peers publish
no power, so every row is priced at its GPUs' TDP. Where tokencost's projection covers the same point (a model card,
the row's GPU and count on one node, its precision, its ISL/OSL, and for a closed loop its concurrency as the
batch), the row shows projected/measured output tok/s; otherwise it says why not.
"""

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from bench.errors import UserError
from bench.inputs.cards import list_card_names
from bench.inputs.precision import from_name
from bench.run.record import PointRecord
from tokencost.analysis.projection import GPU_COUNTS, project
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.precision import support
from tokencost.pricing.priced_runs import Pricing
from tokencost.publish.document import number
from tokencost.publish.gpu_tiers import usd

SHIPPED = Path(str(resources.files("tokencost").joinpath("data/published")))
SOURCES = "sources.toml"


@dataclass(frozen=True)
class Peer:
    """One peer's rows: how they are told apart, named and written."""

    basis: str  # the basis column and the table's name
    file: str  # the CSV they are written to
    prefix: str  # the data files of this peer start with it


INFERENCEX = Peer("measured by InferenceX", "measured-by-inferencex.csv", "inferencex-")
MLPERF = Peer("measured by MLPerf submitters", "measured-by-mlperf.csv", "mlperf-")
PEERS = (INFERENCEX, MLPERF)
PRICED_BY = "priced by tokencost at the GPUs' TDP (no power published)"


def _records(path: Path, catalog) -> list[PointRecord]:
    from tokencost.imports.inferencex import read_inferencex
    from tokencost.imports.mlperf import read_mlperf

    def resolve(name: str) -> str:
        return find_hardware(name, catalog).key

    read = read_inferencex if path.name.startswith(INFERENCEX.prefix) else read_mlperf
    return read(path, None, None, None, resolve)


def _engine(record: PointRecord, key: str):
    """A setting the importer recorded beside the engine's own fields (scenario, precision, parallelism, ...)."""
    return (record.engine.model_extra or {}).get(key)


def _scenario(record: PointRecord) -> str:
    if _engine(record, "scenario"):  # MLPerf
        return (
            f"MLPerf {_engine(record, 'scenario')} ({_engine(record, 'division')} division, "
            f"{_engine(record, 'submitter')}: {_engine(record, 'system')})"
        )
    layout = _engine(record, "parallelism") or ""
    spec = (
        f", speculative decoding {_engine(record, 'speculative_decoding')}"
        if _engine(record, "speculative_decoding") not in (None, "none")
        else ""
    )
    disaggregated = ", disaggregated prefill/decode" if _engine(record, "disaggregated") else ""
    return f"closed loop at concurrency {record.concurrency}, {layout}{disaggregated}{spec}"


def _why_not_projected(record: PointRecord, catalog, cards: set[str]) -> str | None:
    """Why no projection of tokencost covers the row's point, or None where one does."""
    workload, gpus = record.workload, record.hardware.accelerator_count
    precision = from_name(_engine(record, "precision") or "")
    if record.model.name not in cards:
        return f"no model card for {record.model.name}"
    if not workload.isl or not workload.osl:
        return "prompt lengths not published"
    if precision is None:
        return f"precision {_engine(record, 'precision')!r} not modelled"
    if _engine(record, "disaggregated"):
        return "disaggregated prefill/decode not modelled"
    if gpus not in GPU_COUNTS:
        return f"{gpus} GPUs: not one node's {', '.join(map(str, GPU_COUNTS))}"
    return support(find_hardware(record.hardware.accelerator, catalog), precision).why_not


def _projection(record: PointRecord, pricing: Pricing, cards: set[str]) -> tuple[float | None, str]:
    """tokencost's projected output tok/s at the row's point (a closed loop's concurrency as the batch, else the
    KV cache's largest), or None and why no projection covers it."""
    why = _why_not_projected(record, pricing.catalog, cards)
    precision = from_name(_engine(record, "precision") or "")
    if why or precision is None:
        return None, why or "precision not modelled"
    workload, hardware, batch = record.workload, record.hardware, record.concurrency
    try:
        table, _ = project(
            record.model.name,
            hardware.accelerator,
            hardware.accelerator_count,
            [batch] if batch else [],
            workload.isl,
            workload.osl,
            pricing,
            precision=precision,
        )
    except UserError as e:
        return None, f"not projected ({e.problem})"
    chosen = table.tail(1) if batch is None else table[table["batch_size"] == batch]
    if chosen.empty:
        return None, f"batch {batch} does not fit the projected KV cache"
    row = chosen.iloc[0]
    return float(row["projected_output_tok_s"]), (
        f"projected at batch {row['batch_size']:.0f}, {precision.name}, tensor parallel over "
        f"{hardware.accelerator_count} GPU(s), band +/-{row['error_band']:.0%}"
    )


def peer_rows(inputs, catalog, folder: Path = SHIPPED) -> dict[Peer, pd.DataFrame]:
    """Each peer's rows with their provenance and projected/measured (the GPU table prices them)."""
    sources = tomllib.loads((folder / SOURCES).read_text())
    pricing = Pricing.of(load_assumptions(inputs.main_preset), catalog)
    cards = set(list_card_names())
    tables = {}
    for peer in PEERS:
        rows = []
        for path in sorted(folder.glob(f"{peer.prefix}*.json")):
            provenance = sources.get(path.name)
            if provenance is None:
                raise UserError(
                    str(folder / SOURCES), f"gives no source for {path.name}", "add its source, commit, date"
                )
            for record in _records(path, catalog):
                projected, note = _projection(record, pricing, cards)
                hardware, engine = record.hardware, record.engine
                rows.append(
                    {
                        "basis": peer.basis,
                        "model": record.model.name,
                        "kind": record.model.kind,
                        "hardware": hardware.accelerator,
                        "accelerator_count": hardware.accelerator_count,
                        "nodes": max(1, len(hardware.nodes)),
                        "precision": _engine(record, "precision"),
                        "engine": engine.name,
                        "engine_version": engine.version,
                        "scenario": _scenario(record),
                        "isl": record.workload.isl or None,
                        "osl": record.workload.osl or None,
                        "concurrency": record.concurrency,
                        "output_tok_s": record.output_tok_s,
                        "total_tok_s": record.total_tok_s if record.input_tokens else None,
                        "tok_s_per_user": record.interactivity_tok_s_user,
                        "ttft_ms": record.latency_ms.ttft.median if record.latency_ms else None,
                        "power_w": hardware.accelerator_count * find_hardware(hardware.accelerator, catalog).tdp_w,
                        "projected_output_tok_s": projected,
                        "projected_over_measured": None
                        if projected is None or not record.output_tok_s
                        else projected / record.output_tok_s,
                        "projection": note,
                        "token_definition": record.source.token_definition if record.source else None,
                        "source": provenance["source"],
                        "source_file": path.name,
                        "source_commit": provenance["commit"],
                        "source_version": record.source.version if record.source else None,
                        "date": provenance["date"],
                        "label": f"{peer.basis}, {PRICED_BY}; {record.hardware.note}",
                    }
                )
        tables[peer] = pd.DataFrame(rows)
    return tables


def _sources(table: pd.DataFrame) -> str:
    """Each commit the rows come from, with its date and the files taken from it."""
    groups = table.groupby(["source_commit", "date"], sort=False)["source_file"].unique()
    return "; ".join(f"{', '.join(files)} from {commit} ({date})" for (commit, date), files in groups.items())


def _heading(peer: Peer, table: pd.DataFrame, main: str) -> str:
    tokens = (
        "$/M input + output tokens (both published) and $/M output tokens"
        if peer is INFERENCEX
        else "$/M output tokens (the whole hour charged to them: prompt tokens not counted)"
    )
    workload = (
        "random prompts around the nominal ISL/OSL, --ignore-eos, InferenceX's copy of vLLM's benchmark_serving"
        if peer is INFERENCEX
        else "the benchmark's dataset (prompt lengths not published), Offline and Server scenarios"
    )
    batch = (
        "their closed-loop concurrency"
        if peer is INFERENCEX
        else "the submitter's (Offline: as many as the system "
        "takes; Server: the highest load within the benchmark's latency limits)"
    )
    return (
        f"**{peer.basis[0].upper()}{peer.basis[1:]}, {PRICED_BY}** (not projected; never ranked with the projections): "
        f"workload {workload}; batch rule {batch}; power: none published, priced at TDP (estimated); tokens {tokens}, "
        f"preset '{main}'. Sources: {_sources(table)}"
        + f". Token definition: {table['token_definition'].dropna().iloc[0]}."
    )


def peer_markdown(tables: dict[Peer, pd.DataFrame], main: str) -> list[str]:
    """One section per peer: its heading (workload, batch rule, power, tokens, sources) and its rows."""
    lines = []
    for peer, table in tables.items():
        lines += [f"## {peer.basis[0].upper()}{peer.basis[1:]}", ""]
        if table.empty:
            lines += ["No row.", ""]
            continue
        shown = pd.DataFrame(
            {
                "model": table["model"],
                "GPUs": [f"{n:.0f}x{g}" for n, g in zip(table["accelerator_count"], table["hardware"])],
                "precision": table["precision"],
                "engine": [
                    f"{e} ({v})" if isinstance(v, str) else e for e, v in zip(table["engine"], table["engine_version"])
                ],
                "scenario": table["scenario"],
                "ISL/OSL": [
                    f"{i:.0f}/{o:.0f}" if pd.notna(i) else f"n/a/{o:.0f}" if pd.notna(o) else "n/a"
                    for i, o in zip(table["isl"], table["osl"])
                ],
                "output tok/s": [number(v) for v in table["output_tok_s"]],
                f"$/M output '{main}'": [usd(v) for v in table[f"usd_per_m_output {main}"]],
                f"$/M total '{main}'": [usd(v) for v in table[f"usd_per_m_total {main}"]],
                "projected/measured": [
                    f"{r:.2f}" if pd.notna(r) else f"none: {why}"
                    for r, why in zip(table["projected_over_measured"], table["projection"])
                ],
            }
        )
        lines += [_heading(peer, table, main), "", shown.to_markdown(index=False), ""]
    return lines
