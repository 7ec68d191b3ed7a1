"""Price results users already have: a `vllm bench serve --save-result` JSON file as a serving record."""

import json
import math
from pathlib import Path

from bench.errors import UserError
from bench.inputs.cards import list_card_names, load_card
from bench.run.record import PointRecord
from bench.serve.metrics import interactivity
from bench.validation import parse

REQUIRED = ("duration", "completed", "total_input_tokens", "total_output_tokens", "output_throughput",
            "median_ttft_ms", "median_tpot_ms")
METRICS = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2e": "e2el"}  # ours: theirs


def read_vllm_bench(path: Path, gpu: str | None, gpus: int, watts: float | None) -> PointRecord:
    """One serving record from the file; `gpu`/`gpus` say what served it, `watts` its measured power if known."""
    if not gpu:
        raise UserError("--gpu", f"{path} does not say which GPU served it",
                        "give --gpu (e.g. h100-sxm) and --gpus for a vllm bench serve file")
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(str(path), f"is not a readable JSON file ({e})",
                        "give a file written by `vllm bench serve --save-result`") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: content", "is not a JSON object", "give a file written by `vllm bench serve --save-result`")
    missing = [key for key in REQUIRED if not isinstance(data.get(key), (int, float))]
    if missing:
        raise UserError(f"{path}: {', '.join(missing)}", "is missing", "give a file written by `vllm bench serve --save-result`")
    if not data["completed"]:
        raise UserError(f"{path}: completed", "is 0", "give a benchmark that completed requests")
    rate = float(data.get("request_rate") or math.inf)
    closed = math.isinf(rate)
    concurrency = data.get("max_concurrency")
    duration = data["duration"]
    goodput = data.get("request_goodput")
    return parse(PointRecord, {
        "run_id": Path(path).stem,
        "point": f"{data.get('model_id')}/vllm-bench-serve/{'conc' + str(concurrency) if closed else f'rate{rate:g}'}",
        "status": "ok",
        "mode": "serve",
        "model": _model(data.get("model_id") or "unknown"),
        "workload": {"isl": round(data["total_input_tokens"] / data["completed"]),
                     "osl": round(data["total_output_tokens"] / data["completed"]), "note": "mean lengths"},
        "engine": {"name": data.get("backend") or "vllm", "mode": "serve", "server": "measured by vllm bench serve"},
        "concurrency": concurrency if closed else None,
        "request_rate": None if closed else rate,
        "load": {"model": "closed-loop concurrency" if closed else "open-loop Poisson",
                 "max_concurrency": concurrency, "num_requests": data.get("num_prompts")},
        "hardware": {"accelerator": gpu, "accelerator_count": gpus, "gpus": [],
                     "note": "as given on the command line"},
        "num_requests": data.get("num_prompts"),
        "requests_completed": data["completed"],
        "requests_failed": data.get("failed", 0),
        "input_tokens": data["total_input_tokens"],
        "output_tokens": data["total_output_tokens"],
        "duration_s": duration,
        "requests_per_s": data.get("request_throughput"),
        "output_tok_s": data["output_throughput"],
        "total_tok_s": data.get("total_token_throughput"),
        "latency_ms": {ours: {stat: data.get(f"{stat}_{theirs}_ms") for stat in ("mean", "median", "p90", "p99")}
                       for ours, theirs in METRICS.items()},
        "interactivity_tok_s_user": interactivity(data["median_tpot_ms"]),
        "interactivity_p90_tok_s_user": interactivity(data.get("p90_tpot_ms")),
        "goodput": {"requests_per_s": goodput, "share": goodput * duration / data["completed"] if goodput else None},
        "energy": _energy(watts, duration),
        "source": {"file": Path(path).name, "tool": "vllm bench serve", "date": data.get("date")},
    }, str(path))


def _model(model_id: str) -> dict:
    """The card whose name or Hugging Face id matches, so the model's kind and pairing are known."""
    for name in list_card_names():
        card = load_card(name)
        if model_id in (card.name, card.hf_id, str(card.path)):
            return card.summary()
    return {"name": model_id, "kind": "unknown", "pairs_with": None}


def _energy(watts: float | None, duration: float) -> dict:
    if watts is None:
        return {"method": "none", "boundary": "none", "energy_j": None, "avg_power_w": None,
                "basis": "the file has no power; priced at the GPUs' TDP", "measured": False}
    return {"method": "stated", "boundary": "gpu", "energy_j": watts * duration, "avg_power_w": watts,
            "basis": "power given on the command line (--watts)", "measured": False}
