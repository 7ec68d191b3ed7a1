"""Price results users already have: GuideLLM's `benchmarks.json` report, one serving record per benchmark.

`guidellm run --output kind=json,path=...` (0.8) writes one report holding every benchmark of the run (a
sweep holds several). In each, `metrics.<name>.successful` is a distribution {"mean", "median",
"percentiles": {"p90", "p99", ..}, "std_dev", "count", "total_sum"} over the completed requests. What is
taken, per benchmark:

- tokens: `prompt_token_count` and `output_token_count` (total_sum; the server's usage counts);
- duration: the benchmark's `duration` (its measured window, warm-up and cool-down excluded);
  throughput: `output_tokens_per_second` and `tokens_per_second` (mean: the tokens over that window);
- latency: TTFT (`time_to_first_token_ms`, to the first chunk with text), TPOT (`inter_token_latency_ms`:
  (last chunk with text - first) / (tokens - 1), our TPOT's formula; GuideLLM weighs each request by its
  tokens - 1, so its median is a token's, not a request's) and E2E (`request_latency`, in seconds, to the end of
  the response). GuideLLM's own `time_per_output_token_ms` is (last chunk - request start) / tokens, which counts
  the TTFT in: it is not taken. GuideLLM has no gaps between chunks, so ITL is unknown;
- load: the benchmark's strategy: synchronous (concurrency 1), concurrent (its streams), throughput (its
  max_concurrency, else all requests at once): closed loop; constant or poisson (its rate) and trace: open loop.
"""

import math
from datetime import UTC, datetime
from pathlib import Path

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.serve.metrics import interactivity
from bench.validation import parse
from tokencost.imports.vllm_bench import TPOT_ZERO_FIX, _energy, _model, load_result_file

FIX = "give the benchmarks.json that `guidellm run --output kind=json,path=...` writes"
LATENCY = {"ttft": "time_to_first_token_ms", "tpot": "inter_token_latency_ms", "e2e": "request_latency"}
SECONDS = {"request_latency"}  # GuideLLM's distributions in seconds; the others are in ms
CLOSED = {"synchronous", "concurrent", "throughput"}
OPEN = {"constant", "poisson", "trace"}
MAX_EPOCH_S = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


def is_guidellm(data) -> bool:
    """A GuideLLM report is an object with benchmarks (a list; anything else there is a broken report, not
    another tool's file: vllm bench serve writes no such key)."""
    return isinstance(data, dict) and "benchmarks" in data


def read_guidellm(path: Path, gpu: str | None, gpus: int, watts: float | None) -> list[PointRecord]:
    """One serving record per benchmark of the report; `gpu`/`gpus` say what served it, `watts` its power if known."""
    path = Path(path)
    if not gpu:
        raise UserError(
            "--gpu",
            f"{path} does not say which GPU served it",
            "give --gpu (e.g. h100-sxm) and --gpus for a GuideLLM file",
        )
    data = load_result_file(path, FIX)
    if not is_guidellm(data):
        raise UserError(f"{path}: benchmarks", "is missing (not a GuideLLM report)", FIX)
    if not isinstance(data["benchmarks"], list):
        raise UserError(f"{path}: benchmarks", f"is {_short(data['benchmarks'])}, not a list", FIX)
    if not data["benchmarks"]:
        raise UserError(f"{path}: benchmarks", "is empty", "give the report of a run that completed a benchmark")
    version = _get(data, "metadata", "guidellm_version")
    version = version if isinstance(version, str) else "unknown"
    return [_record(_Benchmark(path, i, b), gpu, gpus, watts, version) for i, b in enumerate(data["benchmarks"])]


class _Benchmark:
    """One benchmark of the report, its figures checked as they are read."""

    def __init__(self, path: Path, index: int, data):
        self.path, self.where = path, f"{path}: benchmarks[{index}]"
        if not isinstance(data, dict):
            raise UserError(self.where, f"is {_short(data)}", FIX)
        self.data = data

    def figure(self, *keys, whole: bool = False, required: bool = True):
        """The number at `keys`: finite, at least 0 (whole for a count), or None where absent and not required."""
        value = _get(self.data, *keys)
        field = f"{self.where}.{'.'.join(keys)}"
        if value is None:
            if required:
                raise UserError(field, "is missing", FIX)
            return None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0 or whole and value != int(value):
            what = "a whole number of at least 0" if whole else "a finite number of at least 0"
            raise UserError(field, f"is {_short(value)}", f"give {what}, as GuideLLM writes")
        return int(value) if whole else value

    def distribution(self, name: str) -> dict:
        """A latency distribution of the completed requests in ms; unknown where the report lacks it."""
        if not isinstance(_get(self.data, "metrics", name, "successful"), dict):
            return {}
        scale = 1000 if name in SECONDS else 1

        def ms(*keys):
            value = self.figure("metrics", name, "successful", *keys, required=False)
            return None if value is None else value * scale

        return {
            "mean": ms("mean"),
            "median": ms("median"),
            "p90": ms("percentiles", "p90"),
            "p99": ms("percentiles", "p99"),
            "std": ms("std_dev"),
            "count": self.figure("metrics", name, "successful", "count", whole=True, required=False),
        }


def _record(b: _Benchmark, gpu: str, gpus: int, watts: float | None, version: str) -> PointRecord:
    completed = b.figure("metrics", "request_totals", "successful", whole=True)
    failed = b.figure("metrics", "request_totals", "errored", whole=True, required=False) or 0
    total = b.figure("metrics", "request_totals", "total", whole=True, required=False) or completed + failed
    input_tokens = b.figure("metrics", "prompt_token_count", "successful", "total_sum", whole=True)
    output_tokens = b.figure("metrics", "output_token_count", "successful", "total_sum", whole=True)
    duration = b.figure("duration")
    output_tok_s = b.figure("metrics", "output_tokens_per_second", "successful", "mean")
    tpot = b.figure("metrics", "inter_token_latency_ms", "successful", "median")
    if tpot == 0:
        raise UserError(f"{b.where}.metrics.inter_token_latency_ms.successful.median", "is 0", TPOT_ZERO_FIX)
    b.figure("metrics", "time_to_first_token_ms", "successful", "median")  # required, as for our own points
    for field, value in (
        ("request_totals.successful", completed),
        ("output_token_count", output_tokens),
        ("duration", duration),
        ("output_tokens_per_second", output_tok_s),
    ):
        if value == 0:  # never negative by now; 0 would divide a price
            raise UserError(f"{b.where}.{field}", "is 0", "give the report of a benchmark that completed requests")
    concurrency, rate, kind = _load(b, total, completed / duration)
    model = _get(b.data, "config", "backend", "model")
    model = model if isinstance(model, str) and model else "unknown"
    coordinate = f"conc{concurrency}" if concurrency else f"rate{rate:g}"
    tpot_p90 = b.figure("metrics", "inter_token_latency_ms", "successful", "percentiles", "p90", required=False)
    start = b.figure("start_time", required=False)
    if start is not None and start > MAX_EPOCH_S:
        raise UserError(f"{b.where}.start_time", f"is {_short(start)}", "give seconds since 1970, as GuideLLM writes")
    return parse(
        PointRecord,
        {
            "run_id": b.path.stem,
            "point": f"{model}/guidellm/{coordinate}",
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
                "server": f"measured by guidellm {version}",
                "arrivals": f"GuideLLM {kind} strategy",
            },
            "concurrency": concurrency,
            "request_rate": rate,
            "load": {
                "model": "closed-loop concurrency"
                if concurrency
                else "open-loop trace replay"
                if kind == "trace"
                else "open-loop Poisson",
                "max_concurrency": _get(b.data, "config", "strategy", "max_concurrency"),
                "num_requests": total,
            },
            "hardware": {
                "accelerator": gpu,
                "accelerator_count": gpus,
                "gpus": [],
                "note": "as given on the command line",
            },
            "num_requests": total,
            "requests_completed": completed,
            "requests_failed": failed,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "duration_s": duration,
            "requests_per_s": b.figure("metrics", "requests_per_second", "successful", "mean", required=False),
            "output_tok_s": output_tok_s,
            "total_tok_s": b.figure("metrics", "tokens_per_second", "successful", "mean", required=False),
            "latency_ms": {ours: b.distribution(theirs) for ours, theirs in LATENCY.items()} | {"itl": {}},
            "interactivity_tok_s_user": interactivity(tpot),
            "interactivity_p90_tok_s_user": interactivity(tpot_p90),
            "goodput": {"requests_per_s": None, "share": None},
            "energy": _energy(watts, duration),
            "source": {
                "file": b.path.name,
                "tool": f"guidellm {version}",
                "date": None if start is None else datetime.fromtimestamp(start, UTC).isoformat(),
            },
        },
        str(b.path),
    )


def _load(b: _Benchmark, total: int, completed_per_s: float) -> tuple[int | None, float | None, str]:
    """(concurrency, request rate, strategy) of the benchmark; a concurrency makes it closed loop."""
    strategy = _get(b.data, "config", "strategy")
    kind = strategy.get("type_") if isinstance(strategy, dict) else None
    if kind not in CLOSED | OPEN:
        raise UserError(
            f"{b.where}.config.strategy.type_",
            f"is {_short(kind)}",
            f"give a report of one of GuideLLM's strategies: {', '.join(sorted(CLOSED | OPEN))}",
        )
    if kind == "synchronous":
        return 1, None, kind
    if kind == "throughput":
        return b.figure("config", "strategy", "max_concurrency", whole=True, required=False) or total, None, kind
    if kind == "trace":
        return None, completed_per_s, kind  # a replay's mean rate
    key = "streams" if kind == "concurrent" else "rate"
    value = b.figure("config", "strategy", key, whole=key == "streams")
    if value == 0:
        raise UserError(f"{b.where}.config.strategy.{key}", "is 0", "give a positive number, as GuideLLM writes")
    return (value, None, kind) if kind == "concurrent" else (None, float(value), kind)


def _get(data, *keys):
    """The value at `keys` in nested objects, or None where any is absent or not an object."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _short(value) -> str:
    return repr(value)[:60]
