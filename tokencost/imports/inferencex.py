"""Price InferenceX's published results: its aggregated result rows (`agg_bmk.json`, or one row's `agg_*.json`).

InferenceX (SemiAnalysisAI/InferenceX) serves each model with an engine (vLLM, SGLang, TensorRT-LLM, ATOM, and
disaggregated Dynamo/SGLang) and measures it with its copy of vLLM's benchmark_serving (random prompts around
the nominal ISL/OSL, `--ignore-eos`, a closed loop at `--max-concurrency`); `utils/process_result.py` turns each
result into one row, and the run's rows are published together as `agg_bmk.json` (its `results_bmk` artifact).
What is taken, per row:

- the GPUs: `hw` (the runner's name: its GPU before the first '-' or '_', e.g. `b200-trt`, `mi355x-amd_0`) and
  their count: `tp` (x `pp` x `pcp_size` where given) on one node; `num_prefill_gpu` + `num_decode_gpu` for a
  disaggregated (`is_multinode`) row;
- throughput: `tput_per_gpu` (input + output tokens a second over the benchmark's duration, per GPU of all) and
  `output_tput_per_gpu` (output tokens a second per GPU, per *decode* GPU on a disaggregated row), times those
  GPUs: the whole system's rates, priced as ours are;
- latency: TTFT, TPOT, ITL and E2E (`e2el`) statistics, which the rows give in seconds;
- the engine (`framework`, its container `image`), the weights' `precision`, speculative decoding, the load
  (`conc`) and the nominal lengths (`isl`, `osl`).
"""

import functools
import re
from pathlib import Path

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.serve.metrics import interactivity
from bench.validation import parse
from tokencost.imports import published
from tokencost.imports.vllm_bench import _model

FIX = "as InferenceX's agg_bmk.json (utils/process_result.py) gives it"
TOKEN_DEFINITION = (
    "InferenceX: input + output tokens a second (benchmark_serving's total_token_throughput; output tokens: its "
    "output_throughput) over the benchmark's duration, published per GPU, times the GPUs"
)
LATENCY = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2e": "e2el"}  # ours: theirs
STATISTICS = {"mean": "mean", "median": "median", "p90": "p90", "p99": "p99", "std": "std"}  # ours: theirs
# A disaggregated row gives its GPUs, not its machines: taken as nodes of 8 GPUs, GB200/GB300 trays of 4.
NODE_GPUS, TRAY_GPUS, TRAYS = 8, 4, {"gb200", "gb300"}
_card = functools.cache(_model)


def is_inferencex(data) -> bool:
    """An InferenceX row (or a list of them, the first telling) has the runner `hw` and `tput_per_gpu`."""
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and "hw" in first and "tput_per_gpu" in first


def read_inferencex(
    path: Path, gpu: str | None, gpus: int | None, watts: float | None, resolve: published.Resolve
) -> list[PointRecord]:
    """One serving record per row; `gpu` (a catalog key or name) prices only the rows of that GPU."""
    path = Path(path)
    rows = published.load_rows(path, gpus, watts, FIX)
    names = [(f"[{i}].hw", published.text(path, f"[{i}].hw", row.get("hw"), FIX)) for i, row in enumerate(rows)]
    keys = published.gpu_keys(path, [(where, _runner_gpu(name)) for where, name in names], gpu, resolve)
    return [_record(path, i, row, key) for i, (row, key) in enumerate(zip(rows, keys)) if key is not None]


def _runner_gpu(hw: str) -> str:
    """The GPU a runner's name starts with: 'b200-trt' -> 'b200', 'mi355x-amd_0' -> 'mi355x'."""
    return re.split(r"[-_]", hw.strip(), maxsplit=1)[0]


def _record(path: Path, i: int, row: dict, key: str) -> PointRecord:
    def number(name: str, positive: bool = True) -> float:
        return published.figure(path, f"[{i}].{name}", row.get(name), FIX, positive)

    def count(name: str, default: int | None = None) -> int:
        value = row.get(name, default)
        return published.whole(path, f"[{i}].{name}", value, FIX)

    def words(name: str) -> str:
        return published.text(path, f"[{i}].{name}", row.get(name), FIX)

    model, framework, precision = words("model"), words("framework"), words("precision").lower()
    conc, isl, osl = count("conc"), count("isl"), count("osl")
    disaggregated = row.get("is_multinode") is True or str(row.get("is_multinode")).lower() == "true"
    if disaggregated:
        prefill, decode = count("num_prefill_gpu"), count("num_decode_gpu")
        gpus, output_gpus = prefill + decode, decode
        layout = f"{prefill} prefill + {decode} decode GPUs"
        per_node = TRAY_GPUS if key in TRAYS else NODE_GPUS
        nodes = [{"hostname": f"node {n + 1} (assumed)", "gpus": per_node} for n in range(-(-gpus // per_node))]
    else:
        gpus = count("tp") * count("pp", 1) * count("pcp_size", 1)
        output_gpus, layout = gpus, f"TP {count('tp')}" + (f" x PP {count('pp')}" if row.get("pp", 1) != 1 else "")
        nodes = []
    total_tok_s = number("tput_per_gpu") * gpus
    output_tok_s = number("output_tput_per_gpu") * output_gpus
    if output_tok_s > total_tok_s * (1 + 1e-9):
        raise UserError(
            f"{path}: [{i}].output_tput_per_gpu",
            f"makes {output_tok_s:g} output tok/s, above the {total_tok_s:g} input + output tok/s of tput_per_gpu",
            f"give the row {FIX}",
        )
    input_tok_s = max(total_tok_s - output_tok_s, 0.0)
    tpot_ms = number("median_tpot") * 1000
    number("median_ttft", positive=False)  # required, as for our own points
    image = row.get("image") if isinstance(row.get("image"), str) else None
    window = published.NOMINAL_WINDOW_S
    spec = row.get("spec_decoding")
    return parse(
        PointRecord,
        {
            "run_id": path.stem,
            "point": f"{model}/{framework}/{precision}/{row['hw']}/{layout.replace(' ', '')}/{isl}-{osl}/conc{conc}",
            "status": "ok",
            "mode": "serve",
            "model": _card(model),
            "workload": {"isl": isl, "osl": osl, "note": "nominal lengths: InferenceX draws random ones around them"},
            "engine": {
                "name": framework,
                "mode": "serve",
                "version": image,
                "server": "measured by InferenceX",
                "precision": precision,
                "speculative_decoding": spec if isinstance(spec, str) else None,
                "parallelism": layout,
                "disaggregated": disaggregated,
            },
            "concurrency": conc,
            "load": {"model": "closed-loop concurrency", "max_concurrency": conc},
            "hardware": {
                "accelerator": key,
                "accelerator_count": gpus,
                "nodes": nodes if len(nodes) > 1 else [],
                "note": f"as published: hw {row['hw']!r}, {layout}"
                + (f"; nodes assumed of {nodes[0]['gpus']} GPUs" if len(nodes) > 1 else ""),
            },
            "input_tokens": round(input_tok_s * window),
            "output_tokens": max(round(output_tok_s * window), 1),
            "duration_s": window,
            "throughput_window": published.WINDOW_NOTE,
            "output_tok_s": output_tok_s,
            "total_tok_s": total_tok_s,
            "latency_ms": {ours: _distribution(path, i, row, theirs) for ours, theirs in LATENCY.items()},
            "interactivity_tok_s_user": interactivity(tpot_ms),
            "interactivity_p90_tok_s_user": interactivity(_ms(row.get("p90_tpot"))),
            "energy": published.NO_POWER,
            "source": {
                "file": path.name,
                "tool": "InferenceX",
                "date": row.get("date") if isinstance(row.get("date"), str) else None,
                "version": image,
                "url": row.get("run_url") if isinstance(row.get("run_url"), str) else None,
                "token_definition": TOKEN_DEFINITION,
            },
        },
        f"{path}: [{i}]",
    )


def _distribution(path: Path, i: int, row: dict, name: str) -> dict:
    """A latency's statistics in ms (the row gives seconds); a statistic the row lacks is unknown."""
    stats = {}
    for ours, theirs in STATISTICS.items():
        value = row.get(f"{theirs}_{name}")
        stats[ours] = None if value is None else published.figure(path, f"[{i}].{theirs}_{name}", value, FIX, False)
    return {ours: None if value is None else value * 1000 for ours, value in stats.items()}


def _ms(seconds) -> float | None:
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0
    return seconds * 1000 if ok and seconds != float("inf") else None
