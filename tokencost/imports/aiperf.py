"""Price results users already have: AIPerf's `profile_export_aiperf.json` as a serving record.

`aiperf profile` (0.13) writes the file to its --artifact-dir. Every metric there is an object such as
{"unit": "ms", "avg": .., "p50": .., "p90": .., "p99": .., "std": .., "count": ..}. What is taken:

- tokens: `total_isl` and `total_osl` (with --use-server-token-count, the server's counts; without it,
  AIPerf's own re-tokenization of the text, which can differ from what the server generated);
- throughput: `output_token_throughput` and `total_token_throughput`, and as the duration the window AIPerf
  divides by (the profiling phase, start_time to end_time: total_osl / output_token_throughput), so every
  throughput priced is AIPerf's own; its `benchmark_duration` (first request to last response) is a little
  shorter;
- latency: TTFT (`time_to_first_token`, to the first chunk with text), TPOT (`inter_token_latency`,
  (latency - TTFT) / (tokens - 1), the same formula as ours), ITL (`inter_chunk_latency`, gaps between
  chunks with text) and E2E (`request_latency`, to the last chunk with text);
- load: the profiling phase of `input_config.phases`: a concurrency (closed loop, even where a request rate
  paces the sends as well) or else a request rate (open loop).
"""

import math
from pathlib import Path

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.serve.metrics import interactivity
from bench.validation import parse
from tokencost.imports.vllm_bench import TPOT_ZERO_FIX, _energy, _model, load_result_file

FIX = "give the profile_export_aiperf.json that `aiperf profile` writes to its --artifact-dir"
# Figures a record needs: (metric, statistic, whole number?).
REQUIRED = [
    ("request_count", "avg", True),
    ("total_isl", "avg", True),
    ("total_osl", "avg", True),
    ("output_token_throughput", "avg", False),
    ("time_to_first_token", "p50", False),
    ("inter_token_latency", "p50", False),
]
LATENCY = {
    "ttft": "time_to_first_token",
    "tpot": "inter_token_latency",
    "itl": "inter_chunk_latency",
    "e2e": "request_latency",
}  # ours: AIPerf's
STATISTICS = {"mean": "avg", "median": "p50", "p90": "p90", "p99": "p99", "std": "std"}  # ours: AIPerf's


def is_aiperf(data) -> bool:
    """An AIPerf profile export says which AIPerf wrote it."""
    return isinstance(data, dict) and "aiperf_version" in data


def read_aiperf(path: Path, gpu: str | None, gpus: int, watts: float | None) -> PointRecord:
    """One serving record from the file; `gpu`/`gpus` say what served it, `watts` its measured power if known."""
    path = Path(path)
    if not gpu:
        raise UserError(
            "--gpu",
            f"{path} does not say which GPU served it",
            "give --gpu (e.g. h100-sxm) and --gpus for an AIPerf file",
        )
    data = _load(path)
    figures = {(tag, stat): _metric(path, data, tag, stat, whole) for tag, stat, whole in REQUIRED}
    for tag, stat, _ in REQUIRED:
        if tag != "time_to_first_token" and tag != "inter_token_latency" and figures[tag, stat] == 0:
            raise UserError(f"{path}: {tag}.{stat}", "is 0", "give the file of a benchmark that completed requests")
    for tag in ("time_to_first_token", "inter_token_latency"):
        _unit(path, data, tag, "ms")
    completed, input_tokens, output_tokens = (
        int(figures[tag, "avg"]) for tag in ("request_count", "total_isl", "total_osl")
    )
    output_tok_s = figures["output_token_throughput", "avg"]
    failed = _metric(path, data, "error_request_count", "avg", True, required=False) or 0
    concurrency, rate, arrivals = _load_model(path, data)
    version = data.get("aiperf_version") if isinstance(data.get("aiperf_version"), str) else "unknown"
    model = _model_name(data)
    tpot = _metric(path, data, "inter_token_latency", "p50", False)
    if tpot == 0:
        raise UserError(f"{path}: inter_token_latency.p50", "is 0", TPOT_ZERO_FIX)
    tpot_p90 = _metric(path, data, "inter_token_latency", "p90", False, required=False)
    coordinate = f"conc{concurrency}" if concurrency else f"rate{rate:g}"
    return parse(
        PointRecord,
        {
            "run_id": path.stem,
            "point": f"{model}/aiperf/{coordinate}",
            "status": "ok",
            "mode": "serve",
            "model": _model(model),
            "workload": {
                "isl": round(input_tokens / completed),
                "osl": round(output_tokens / completed),
                "note": "mean lengths",
            },
            "engine": {
                "name": "openai-compatible server",
                "mode": "serve",
                "server": f"measured by aiperf {version}",
                "arrivals": arrivals,
                "token_counts": _token_counts(data),
            },
            "concurrency": concurrency,
            "request_rate": None if concurrency else rate,
            "load": {
                "model": "closed-loop concurrency" if concurrency else "open-loop Poisson",
                "max_concurrency": concurrency,
                "num_requests": completed + failed,
            },
            "hardware": {
                "accelerator": gpu,
                "accelerator_count": gpus,
                "gpus": [],
                "note": "as given on the command line",
            },
            "num_requests": completed + failed,
            "requests_completed": completed,
            "requests_failed": failed,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "duration_s": output_tokens / output_tok_s,  # AIPerf's throughput window (see the module's doc)
            "requests_per_s": _metric(path, data, "request_throughput", "avg", False, required=False),
            "output_tok_s": output_tok_s,
            "total_tok_s": _metric(path, data, "total_token_throughput", "avg", False, required=False),
            "latency_ms": {ours: _distribution(path, data, theirs) for ours, theirs in LATENCY.items()},
            "interactivity_tok_s_user": interactivity(tpot),
            "interactivity_p90_tok_s_user": interactivity(tpot_p90),
            "goodput": {"requests_per_s": None, "share": None},
            "energy": _energy(watts, output_tokens / output_tok_s),
            "source": {
                "file": path.name,
                "tool": f"aiperf {version}",
                "date": data.get("start_time") if isinstance(data.get("start_time"), str) else None,
            },
        },
        str(path),
    )


def _load(path: Path) -> dict:
    data = load_result_file(path, FIX)
    if not isinstance(data, dict):
        raise UserError(f"{path}: content", "is not a JSON object", FIX)
    return data


def _metric(path: Path, data: dict, tag: str, stat: str, whole: bool, required: bool = True):
    """One statistic of one metric: a finite number of at least 0 (a whole one for a count), or None if absent."""
    metric = data.get(tag)
    if metric is None or isinstance(metric, dict) and metric.get(stat) is None:
        if required:
            raise UserError(f"{path}: {tag}.{stat}", "is missing", FIX)
        return None
    if not isinstance(metric, dict):
        raise UserError(
            f"{path}: {tag}", f"is {_short(metric)}", 'give an object such as {"unit": .., "avg": ..}, as AIPerf writes'
        )
    value = metric[stat]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0 or whole and value != int(value):
        what = "a whole number of at least 0" if whole else "a finite number of at least 0"
        raise UserError(f"{path}: {tag}.{stat}", f"is {_short(value)}", f"give {what}, as AIPerf writes")
    return value


def _unit(path: Path, data: dict, tag: str, unit: str) -> None:
    if data[tag].get("unit") != unit:
        raise UserError(
            f"{path}: {tag}.unit",
            f"is {_short(data[tag].get('unit'))}",
            f"give the export as AIPerf writes it, with latencies in {unit}",
        )


def _distribution(path: Path, data: dict, tag: str) -> dict:
    """A latency metric's statistics in ms; unknown where the file lacks the metric or gives it in other units."""
    metric = data.get(tag)
    if not isinstance(metric, dict) or metric.get("unit") != "ms":
        return {}
    stats = {ours: _metric(path, data, tag, theirs, False, required=False) for ours, theirs in STATISTICS.items()}
    count = _metric(path, data, tag, "count", True, required=False)
    return stats | {"count": None if count is None else int(count)}


def _load_model(path: Path, data: dict) -> tuple[int | None, float | None, str]:
    """(concurrency, request rate, arrivals in words) of the profiling phase; a concurrency makes it closed loop."""
    where = f"{path}: input_config.phases"
    config = data.get("input_config")
    phases = config.get("phases") if isinstance(config, dict) else None
    if not isinstance(phases, list):
        raise UserError(where, "is missing", FIX)
    profiling = [p for p in phases if isinstance(p, dict) and p.get("kind", p.get("name")) == "profiling"]
    if not profiling:
        raise UserError(where, "has no profiling phase", FIX)
    phase = profiling[0]
    concurrency, rate, kind = phase.get("concurrency"), phase.get("rate"), phase.get("type")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise UserError(f"{where}.concurrency", f"is {_short(concurrency)}", "give a positive whole number")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0
    ):
        raise UserError(f"{where}.rate", f"is {_short(rate)}", "give a positive number of requests per second")
    if concurrency:
        paced = f", sent at most {rate:g}/s ({kind})" if rate else ""
        return concurrency, None, f"closed loop at concurrency {concurrency}{paced}"
    if rate:
        return None, float(rate), f"open loop at {rate:g}/s ({kind})"
    raise UserError(
        where,
        "gives neither a concurrency nor a request rate for profiling",
        "give a file of a concurrency or request-rate benchmark",
    )


def _model_name(data: dict) -> str:
    try:
        return str(data["input_config"]["models"]["items"][0]["name"])
    except (KeyError, IndexError, TypeError):
        return "unknown"


def _token_counts(data: dict) -> str:
    try:
        server = data["input_config"]["endpoint"]["use_server_token_count"] is True
    except (KeyError, TypeError):
        server = False
    return "the server's usage" if server else "AIPerf's re-tokenization of the text"


def _short(value) -> str:
    return repr(value)[:60]
