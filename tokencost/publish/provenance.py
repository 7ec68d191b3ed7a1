"""Where records came from: per run, its hardware, models, engines, software and dates."""

import pandas as pd

from bench.run.record import PointRecord
from tokencost.pricing.table import node_count


def _unique(values) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def engines(records: list[PointRecord]) -> str:
    """'name version' of each engine that completed a point, e.g. 'transformers 5.19.0, vllm 0.32.0'."""
    versions = {(r.engine.name, r.engine.version) for r in records if r.ok}
    return ", ".join(f"{name} {version}" for name, version in sorted(versions, key=str)) or "?"


def models(records: list[PointRecord]) -> str:
    return ", ".join(_unique(f"{r.model.name} ({r.model.kind})" for r in records)) or "?"


def weights(records: list[PointRecord]) -> str:
    return ", ".join(_unique(r.model.weights for r in records)) or "?"


def loads(records: list[PointRecord]) -> str:
    """Offline batch sizes, serving concurrencies and request rates, e.g. 'batch 1, 4; concurrency 8'."""

    def values(kind: str, found: set) -> str:
        return f"{kind} {', '.join(f'{v:g}' for v in sorted(found))}" if found else ""

    parts = [
        values("batch", {r.batch_size for r in records if r.batch_size is not None}),
        values("concurrency", {r.concurrency for r in records if r.concurrency is not None}),
        values("rate (req/s)", {r.request_rate for r in records if r.request_rate is not None}),
    ]
    return "; ".join(p for p in parts if p) or "?"


def modes(records: list[PointRecord]) -> str:
    return ", ".join(_unique(r.mode for r in records))


def hardware(records: list[PointRecord]) -> str:
    return ", ".join(_unique(_machines(r) for r in records)) or "?"


def _machines(r: PointRecord) -> str:
    """'NVIDIA H100 80GB HBM3 x 8', or for a multi-node engine 'NVIDIA H100 80GB HBM3 x 16 over 2 nodes' (the count
    is every node's GPUs)."""
    nodes = node_count(r)
    return f"{r.hardware.accelerator} x {r.hardware.accelerator_count}" + (f" over {nodes} nodes" if nodes > 1 else "")


def workloads(records: list[PointRecord]) -> str:
    """Random workloads by their lengths, e.g. 'ISL 128 / OSL 128'; the other kinds by their labels."""
    return (
        ", ".join(
            _unique(
                r.workload.label
                if r.workload.kind not in (None, "random") and r.workload.label
                else f"ISL {r.workload.isl} / OSL {r.workload.osl}"
                for r in records
            )
        )
        or "?"
    )


def dates(records: list[PointRecord]) -> str:
    """The days the records were measured on, e.g. '2026-11-27' or '2026-11-27 to 2026-11-29'."""
    days = sorted({t[:10] for r in records for t in (r.started_at, r.finished_at) if t})
    if not days:
        return "?"
    return days[0] if days[0] == days[-1] else f"{days[0]} to {days[-1]}"


def software(records: list[PointRecord]) -> str:
    """Python and package versions, and the git commit, of the records (each distinct set once)."""
    sets = _unique(
        "; ".join(
            [
                f"python {s.python or '?'}",
                ", ".join(f"{k} {v}" for k, v in s.packages.items()),
                f"commit {s.git_commit or '?'}",
            ]
        )
        for s in (r.software for r in records)
        if s
    )
    return " / ".join(sets) or "?"


def runs_table(records: list[PointRecord]) -> pd.DataFrame:
    """One row per run id, in the order the runs first appear."""
    runs: dict[str, list[PointRecord]] = {}
    for r in records:
        runs.setdefault(r.run_id, []).append(r)
    rows = []
    for run_id, rs in runs.items():
        ok = sum(r.ok for r in rs)
        rows.append(
            {
                "run": run_id,
                "hardware": hardware(rs),
                "models": models(rs),
                "engines": engines(rs),
                "mode": modes(rs),
                "workload": workloads(rs),
                "points ok / failed": f"{ok} / {len(rs) - ok}",
                "dates": dates(rs),
                "software": software(rs),
            }
        )
    return pd.DataFrame(rows)
