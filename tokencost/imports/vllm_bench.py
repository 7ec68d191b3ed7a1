"""Price results users already have: a `vllm bench serve --save-result` JSON file as a serving record."""

import math
from pathlib import Path

from bench.errors import UserError
from bench.inputs.cards import list_card_names, load_card
from bench.inputs.json_files import read_user_json
from bench.run.record import PointRecord
from bench.serve.metrics import interactivity
from bench.validation import parse

# Required figures, and whether each is a count of requests or tokens (a whole number) or a measure.
REQUIRED = {
    "duration": float,
    "completed": int,
    "total_input_tokens": int,
    "total_output_tokens": int,
    "output_throughput": float,
    "median_ttft_ms": float,
    "median_tpot_ms": float,
}
# Optional figures, checked the same way when present: never negative, never a bool, never inf or nan.
OPTIONAL = {
    "failed": int,
    "num_prompts": int,
    "max_concurrency": int,
    "request_throughput": float,
    "total_token_throughput": float,
    "request_goodput": float,
}
METRICS = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2e": "e2el"}  # ours: theirs
FIX = "give a file written by `vllm bench serve --save-result`"
# A median TPOT of 0 is no speed: the requests made one token each (no time between tokens) or the file is
# broken; priced, it would leave interactivity out without a word.
# A median time between tokens of 0: the requests generated one token each, or the client read most tokens in the
# same read as the one before (a client short of cores reads a fast stream in bursts); neither gives a pace.
TPOT_ZERO_FIX = (
    "give the file of a benchmark whose requests generated more than one token each, from a client with cores to "
    "spare (a busy client reads a fast stream in bursts, with no time between tokens)"
)
FIELD = "RUN_DIR_OR_JSON"  # `tokencost price`'s argument, which names these files


def load_result_file(path: Path, fix: str):
    """A result file's JSON value; refused in one line naming the file and the field where it cannot be read.
    Infinity is read (vllm bench serve's request rate of all at once): every figure is checked finite where it
    is read, named by its field."""
    return read_user_json(Path(path), FIELD, "a result file", fix, infinity=True)


def read_vllm_bench(path: Path, gpu: str | None, gpus: int, watts: float | None) -> PointRecord:
    """One serving record from the file; `gpu`/`gpus` say what served it, `watts` its measured power if known."""
    if not gpu:
        raise UserError(
            "--gpu",
            f"{path} does not say which GPU served it",
            "give --gpu (e.g. h100-sxm) and --gpus for a vllm bench serve file",
        )
    data = load_result_file(path, FIX)
    if not isinstance(data, dict):
        raise UserError(f"{path}: content", "is not a JSON object", FIX)
    missing = [key for key in REQUIRED if data.get(key) is None]
    if missing:
        raise UserError(f"{path}: {', '.join(missing)}", "is missing", FIX)
    for key, kind in (REQUIRED | OPTIONAL).items():
        _check_figure(path, key, data.get(key), kind)
    for key in (
        "duration",
        "completed",
        "total_input_tokens",
        "total_output_tokens",
        "output_throughput",
        "num_prompts",
        "max_concurrency",
    ):
        if data.get(key) == 0:  # never negative by now; 0 would divide a price or set no load
            raise UserError(f"{path}: {key}", f"is {data[key]}", "give the file of a benchmark that completed requests")
    if data["median_tpot_ms"] == 0:
        raise UserError(f"{path}: median_tpot_ms", "is 0", TPOT_ZERO_FIX)
    rate = _request_rate(path, data.get("request_rate"))
    concurrency = data.get("max_concurrency")
    closed = math.isinf(rate)
    if closed and concurrency is None:
        # vllm bench serve's default load: every request sent at once, none capped, so all are in flight.
        concurrency = data.get("num_prompts") or data["completed"] + (data.get("failed") or 0)
    duration = data["duration"]
    goodput = data.get("request_goodput")  # None: no SLO was given; 0.0: no request met it
    return parse(
        PointRecord,
        {
            "run_id": Path(path).stem,
            "point": f"{data.get('model_id')}/vllm-bench-serve/{'conc' + str(concurrency) if closed else f'rate{rate:g}'}",
            "status": "ok",
            "mode": "serve",
            "model": _model(data.get("model_id") or "unknown"),
            "workload": {
                "isl": round(data["total_input_tokens"] / data["completed"]),
                "osl": round(data["total_output_tokens"] / data["completed"]),
                "note": "mean lengths",
            },
            "engine": {
                "name": data.get("backend") or "vllm",
                "mode": "serve",
                "server": "measured by vllm bench serve",
            },
            "concurrency": concurrency if closed else None,
            "request_rate": None if closed else rate,
            "load": {
                "model": "closed-loop concurrency" if closed else "open-loop Poisson",
                "max_concurrency": data.get("max_concurrency"),
                "num_requests": data.get("num_prompts"),
            },
            "hardware": {
                "accelerator": gpu,
                "accelerator_count": gpus,
                "gpus": [],
                "note": "as given on the command line",
            },
            "num_requests": data.get("num_prompts"),
            "requests_completed": data["completed"],
            "requests_failed": data.get("failed", 0),
            "input_tokens": data["total_input_tokens"],
            "output_tokens": data["total_output_tokens"],
            "duration_s": duration,
            "requests_per_s": data.get("request_throughput"),
            "output_tok_s": data["output_throughput"],
            "total_tok_s": data.get("total_token_throughput"),
            "latency_ms": {
                ours: {stat: _latency(data.get(f"{stat}_{theirs}_ms")) for stat in ("mean", "median", "p90", "p99")}
                for ours, theirs in METRICS.items()
            },
            "interactivity_tok_s_user": interactivity(data["median_tpot_ms"]),
            "interactivity_p90_tok_s_user": interactivity(_latency(data.get("p90_tpot_ms"))),
            "goodput": {
                "requests_per_s": goodput,
                "share": None if goodput is None else goodput * duration / data["completed"],
            },
            "energy": _energy(watts, duration),
            "source": {"file": Path(path).name, "tool": "vllm bench serve", "date": data.get("date")},
        },
        str(path),
    )


def _check_figure(path: Path, key: str, value, kind) -> None:
    """A figure of the file: absent (None), or a finite non-negative number; a whole one for a count."""
    if value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)  # JSON true is no count
    if kind is int and number and isinstance(value, float) and value.is_integer():
        number = True  # 16.0 requests is 16
    elif kind is int and number:
        number = isinstance(value, int)
    if not number or not math.isfinite(value) or value < 0:
        what = "a whole number of at least 0" if kind is int else "a finite number of at least 0"
        raise UserError(f"{path}: {key}", f"is {value!r}", f"give {what}, as `vllm bench serve --save-result` writes")


def _request_rate(path: Path, value) -> float:
    """Requests per second; vLLM writes "inf" (or Infinity, or nothing) when all are sent at once."""
    if value is None or value == "inf" or value == "Infinity":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise UserError(
            f"{path}: request_rate",
            f"is {value!r}",
            'give a positive number of requests per second, or "inf" for all at once',
        )
    return float(value)


def _latency(value):
    """A latency statistic as the record holds it: a finite non-negative number, else unknown."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return value if ok else None


def _model(model_id: str) -> dict:
    """The card whose name or Hugging Face id matches, so the model's kind and pairing are known."""
    for name in list_card_names():
        try:
            card = load_card(name)
        except UserError:
            continue  # a broken card (listed as such by `tokencost models`) describes nothing here
        if model_id in (card.name, card.hf_id, str(card.path)):
            return card.summary()
    return {"name": model_id, "kind": "unknown", "pairs_with": None}


def _energy(watts: float | None, duration: float) -> dict:
    if watts is None:
        return {
            "method": "none",
            "boundary": "none",
            "energy_j": None,
            "avg_power_w": None,
            "basis": "the file has no power; priced at the GPUs' TDP",
            "measured": False,
        }
    return {
        "method": "stated",
        "boundary": "gpu",
        "energy_j": watts * duration,
        "avg_power_w": watts,
        "basis": "power given on the command line (--watts)",
        "measured": False,
    }
