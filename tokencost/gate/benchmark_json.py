"""A run's points in the layout of pytest-benchmark's --benchmark-json, for `pytest-benchmark compare` and trackers.

Each point gives two benchmarks, both lower-is-better as pytest-benchmark
assumes: its cost in USD per million tokens, and its time per output token in
seconds (so pytest-benchmark's "ops" column is output tokens per second). Each
repeat of a point is one round. pytest-benchmark prints every value in its time
units, so a cost of $0.29/M shows as 290 ms there.
"""

import json
import statistics
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bench.run.record import PointRecord
from tokencost.gate.compare import KEY_DEFAULTS, NO_VALUE, key_columns, keyed_points

FORMAT_VERSION = "5.3.1"  # the pytest-benchmark release whose JSON layout this follows (tests check it reads)
SERIES = (
    # group, benchmark name, unit, values from the priced table
    ("cost: USD per million tokens", "usd_per_mtok", "USD per million tokens", lambda p: p["total_per_mtok_usd"]),
    (
        "throughput: seconds per output token (ops = output tok/s)",
        "s_per_output_token",
        "seconds per output token",
        lambda p: 1 / p["output_tok_s"],
    ),
)
LABEL_PREFIXES = {
    "batch_size": "batch",
    "concurrency": "concurrency",
    "request_rate": "rate",
    "isl": "isl",
    "osl": "osl",
}


def point_label(values: dict, keys: list[str]) -> str:
    """e.g. tiny-dense/cpu-vcpu/vllm/batch4/isl16/osl16 (default values left out)."""
    return "/".join(
        LABEL_PREFIXES.get(k, "") + values[k] for k in keys if values[k] not in (NO_VALUE, KEY_DEFAULTS.get(k))
    )


def stats(data: list[float]) -> dict:
    """pytest-benchmark's statistics of one benchmark's rounds (quartiles by the inclusive method)."""
    ordered = sorted(data)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(data) > 1 else ordered * 3
    iqr = q3 - q1
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    stddev_outliers = sum(not mean - stddev <= v <= mean + stddev for v in data)
    iqr_outliers = sum(not q1 - 1.5 * iqr <= v <= q3 + 1.5 * iqr for v in data)
    total = sum(data)
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": len(data),
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ordered[bisect_left(ordered, q1 - 1.5 * iqr)],
        "hd15iqr": ordered[bisect_right(ordered, q3 + 1.5 * iqr) - 1],
        "ops": len(data) / total if total else 0,
        "total": total,
        "data": list(data),
        "iterations": 1,
    }


def benchmark_json(points: pd.DataFrame, records: list[PointRecord]) -> dict:
    keys = key_columns(points)
    keyed = keyed_points(points, keys)
    benchmarks = []
    for group, slug, unit, values in SERIES:
        keyed["value"] = values(keyed)
        for key_values, rows in keyed.groupby(keys, sort=True):
            params = dict(zip(keys, key_values))
            label = point_label(params, keys)
            benchmarks.append(
                {
                    "group": group,
                    "name": f"{slug}[{label}]",
                    "fullname": f"tokencost::{slug}[{label}]",
                    "params": {k: _native(v) for k, v in params.items() if v != NO_VALUE},
                    "param": label,
                    "extra_info": {
                        "unit": unit,
                        "lower_is_better": True,
                        "run_ids": sorted(set(rows["run_id"].dropna())) if "run_id" in rows else [],
                    },
                    "options": {
                        "disable_gc": False,
                        "timer": "tokencost",
                        "min_rounds": 1,
                        "max_time": 0,
                        "warmup": False,
                    },
                    "stats": stats(rows["value"].tolist()),
                }
            )
    return {
        "machine_info": _machine_info(records),
        "commit_info": _commit_info(records),
        "benchmarks": benchmarks,
        "datetime": _finished(records),
        "version": FORMAT_VERSION,
    }


def write_benchmark_json(path: Path, points: pd.DataFrame, records: list[PointRecord]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(benchmark_json(points, records), indent=2) + "\n")


def _native(value: str):
    """A key value as the number it was, where it was one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _machine_info(records: list[PointRecord]) -> dict:
    hardware = records[0].hardware if records else None
    software = records[0].software if records else None
    return {
        "node": ", ".join(sorted({r.run_id for r in records})),
        "processor": hardware and hardware.cpu_model,
        "machine": hardware and hardware.machine,
        "python_version": software and software.python,
        "cpu": {"brand_raw": hardware and hardware.cpu_model, "count": hardware and hardware.vcpus},
        "accelerator": hardware and hardware.accelerator,
        "accelerator_count": hardware and hardware.accelerator_count,
    }


def _commit_info(records: list[PointRecord]) -> dict:
    commit = next((r.software.git_commit for r in records if r.software and r.software.git_commit), None)
    dirty = bool(commit and commit.endswith("-dirty"))
    return {
        "id": commit.removesuffix("-dirty") if commit else "unknown",
        "time": None,
        "author_time": None,
        "dirty": dirty,
        "project": "tokencost",
        "branch": None,
    }


def _finished(records: list[PointRecord]) -> str:
    times = [r.finished_at for r in records if r.finished_at]
    return max(times) if times else datetime.now(UTC).isoformat(timespec="seconds")
