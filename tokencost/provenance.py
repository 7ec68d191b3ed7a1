"""Where records came from: per run, its hardware, models, engines, software and dates."""

import pandas as pd


def _unique(values) -> list:
    return list(dict.fromkeys(v for v in values if v is not None))


def engines(records: list[dict]) -> str:
    """'name version' of each engine that completed a point, e.g. 'transformers 5.19.0, vllm 0.32.0'."""
    versions = {(r.get("engine", {}).get("name"), r.get("engine", {}).get("version"))
                for r in records if r.get("status") == "ok"}
    return ", ".join(f"{name} {version}" for name, version in sorted(versions)) or "?"


def models(records: list[dict]) -> str:
    return ", ".join(_unique(f"{r['model']['name']} ({r['model'].get('kind', '?')})" for r in records
                             if r.get("model"))) or "?"


def weights(records: list[dict]) -> str:
    return ", ".join(_unique(r["model"].get("weights") for r in records if r.get("model"))) or "?"


def loads(records: list[dict]) -> str:
    """Offline batch sizes, serving concurrencies and request rates, e.g. 'batch 1, 4; concurrency 8'."""
    def values(kind: str, pick) -> str:
        found = sorted({v for r in records if (v := pick(r)) is not None})
        return f"{kind} {', '.join(f'{v:g}' for v in found)}" if found else ""

    parts = [
        values("batch", lambda r: r.get("engine", {}).get("batch_size") if r.get("mode", "offline") == "offline"
               else None),
        values("concurrency", lambda r: r.get("load", {}).get("concurrency")),
        values("rate (req/s)", lambda r: r.get("load", {}).get("request_rate")),
    ]
    return "; ".join(p for p in parts if p) or "?"


def modes(records: list[dict]) -> str:
    return ", ".join(_unique(r.get("mode", "offline") for r in records))


def hardware(records: list[dict]) -> str:
    return ", ".join(_unique(f"{r['hardware'].get('accelerator', '?')} x {r['hardware'].get('accelerator_count', '?')}"
                             for r in records if r.get("hardware"))) or "?"


def workloads(records: list[dict]) -> str:
    return ", ".join(_unique(f"ISL {r['workload'].get('isl')} / OSL {r['workload'].get('osl')}"
                             for r in records if r.get("workload"))) or "?"


def dates(records: list[dict]) -> str:
    """The days the records were measured on, e.g. '2026-11-27' or '2026-11-27 to 2026-11-29'."""
    days = sorted({str(r[key])[:10] for r in records for key in ("started_at", "finished_at") if r.get(key)})
    if not days:
        return "?"
    return days[0] if days[0] == days[-1] else f"{days[0]} to {days[-1]}"


def software(records: list[dict]) -> str:
    """Python and package versions, and the git commit, of the records (each distinct set once)."""
    sets = _unique(
        "; ".join([f"python {s.get('python', '?')}", ", ".join(f"{k} {v}" for k, v in s.get("packages", {}).items()),
                   f"commit {s.get('git_commit', '?')}"])
        for s in (r.get("software") for r in records) if s
    )
    return " / ".join(sets) or "?"


def _count_ok(records: list[dict]) -> int:
    return sum(r.get("status") == "ok" for r in records)


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per run id, in the order the runs first appear."""
    runs: dict[str, list[dict]] = {}
    for r in records:
        runs.setdefault(r.get("run_id", "?"), []).append(r)
    return pd.DataFrame([{
        "run": run_id,
        "hardware": hardware(rs),
        "models": models(rs),
        "engines": engines(rs),
        "mode": modes(rs),
        "workload": workloads(rs),
        "points ok / failed": f"{_count_ok(rs)} / {len(rs) - _count_ok(rs)}",
        "dates": dates(rs),
        "software": software(rs),
    } for run_id, rs in runs.items()])
