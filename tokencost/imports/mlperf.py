"""Price MLPerf Inference's published results: a round's `summary_results.json` (mlcommons/inference_results_vX.Y).

The summary holds one row per submitted result: submitter, system, accelerator and how many (`a#` per node x
`Nodes`), benchmark (`Model`), scenario, the software, the weights' data type, and the result with its units.
Only the datacenter LLM results are read: those in tokens a second (llama2-70b, llama3.1-405b, llama3.1-8b,
mixtral-8x7b, deepseek-r1, ...) of the Offline, Server and Interactive scenarios, on accelerators; the other
rows (other benchmarks, edge results, systems of CPUs alone, whose accelerator is "") are left out.

Which tokens: LoadGen counts the tokens the system generated, as the system reports each completed sample's
output (the run's `mlperf_log_summary.txt`: Offline "Tokens per second", Server "Completed tokens per second";
its samples per second x the `TOKENS_PER_SAMPLE` of the row's accuracy run give the same figure). Prompt tokens
are not counted and the summary gives no prompt lengths, so each record has the output tokens only: $/M is per
output token (the whole hour charged to them) and the API comparison is with the API's output price alone.

A Server (and Interactive) result is the throughput at the highest load that met the benchmark's TTFT and TPOT
limits; the summary gives neither its latencies nor its load, so every row is priced in the offline table, its
scenario named in the workload column.
"""

import functools
import re
from pathlib import Path

from bench.errors import UserError
from bench.run.record import PointRecord
from bench.validation import parse
from tokencost.imports import published
from tokencost.imports.vllm_bench import _model

FIX = "as MLPerf Inference's summary_results.json gives it"
SCENARIOS = {"Offline", "Server", "Interactive"}
UNITS = "Tokens/s"
TOKEN_DEFINITION = (
    "MLPerf Inference: generated (output) tokens a second of the whole system, counted by LoadGen as the system "
    "reports each sample's output; prompt tokens not counted"
)
# MLPerf's benchmark -> the model card of the same architecture (the benchmark runs its instruct variant), else
# the reference model's Hugging Face id.
MODELS = {
    "llama2-70b": "meta-llama/Llama-2-70b-chat-hf",
    "llama3.1-405b": "meta-llama/Llama-3.1-405B-Instruct",
    "llama3.1-8b": "llama-3.1-8b",
    "mixtral-8x7b": "mixtral-8x7b",
    "deepseek-r1": "deepseek-ai/DeepSeek-R1",
}
PRECISIONS = {"unset": None, "": None}  # the summary's data types that say nothing
_card = functools.cache(_model)


def is_mlperf(data) -> bool:
    """A summary is a list of result rows, the first with `Performance_Result` and `Scenario`."""
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "Performance_Result" in data[0]
        and "Scenario" in data[0]
    )


def read_mlperf(
    path: Path, gpu: str | None, gpus: int | None, watts: float | None, resolve: published.Resolve
) -> list[PointRecord]:
    """One record per datacenter LLM result; `gpu` (a catalog key or name) prices only the rows of that GPU."""
    path = Path(path)
    data = published.load_rows(path, gpus, watts, FIX)
    if not is_mlperf(data):
        raise UserError(f"{path}: content", "is not a list of MLPerf result rows", f"give the file {FIX}")
    rows = []
    for i, row in enumerate(data):
        llm = row.get("Suite") == "datacenter" and row.get("Scenario") in SCENARIOS
        if llm and row.get("Performance_Units") == UNITS and row.get("Accelerator") != "":  # "": CPUs alone
            rows.append((i, row))
    if not rows:
        raise UserError(
            f"{path}: Performance_Units",
            f"has no datacenter LLM result in {UNITS} of the {', '.join(sorted(SCENARIOS))} scenarios",
            "give a summary_results.json of a round with LLM benchmarks (v4.1 or later)",
        )
    names = [
        (f"[{i}].Accelerator", published.text(path, f"[{i}].Accelerator", r.get("Accelerator"), FIX)) for i, r in rows
    ]
    keys = published.gpu_keys(path, names, gpu, resolve)
    return [_record(path, i, row, key) for (i, row), key in zip(rows, keys) if key is not None]


def _record(path: Path, i: int, row: dict, key: str) -> PointRecord:
    def words(name: str) -> str:
        return published.text(path, f"[{i}].{name}", row.get(name), FIX)

    benchmark, scenario, version, result_id = words("Model"), words("Scenario"), words("version"), words("ID")
    per_node = published.whole(path, f"[{i}].a#", row.get("a#"), FIX)
    nodes = published.whole(path, f"[{i}].Nodes", row.get("Nodes"), FIX)
    output_tok_s = published.figure(path, f"[{i}].Performance_Result", row.get("Performance_Result"), FIX)
    per_sample = _tokens_per_sample(row.get("Accuracy"))
    software = row["Software"] if isinstance(row.get("Software"), str) else ""
    precision = str(row.get("weight_data_types", "")).strip().lower()
    window = published.NOMINAL_WINDOW_S
    division = row.get("Category") if isinstance(row.get("Category"), str) else "?"
    submitter, platform = words("Submitter"), words("Platform")
    return parse(
        PointRecord,
        {
            "run_id": f"mlperf-inference-{version}",
            "point": f"{result_id}/{submitter}/{platform}/{benchmark}/{scenario}",
            "status": "ok",
            "mode": "offline",
            "model": _card(MODELS.get(re.sub(r"-99(\.9)?$", "", benchmark), benchmark)),
            "workload": {
                "isl": 0,
                "osl": round(per_sample) if per_sample else 0,
                "kind": "mlperf",
                "label": f"MLPerf {benchmark} {scenario}",
                "note": "the benchmark's dataset; prompt lengths not published, output: the accuracy run's tokens "
                "per sample"
                if per_sample
                else "the benchmark's dataset; neither prompt nor output lengths published",
            },
            "engine": {
                "name": _engine_name(software),
                "version": software or None,
                "precision": PRECISIONS.get(precision, precision),
                "scenario": scenario,
                "division": division,
                "system": row.get("System") if isinstance(row.get("System"), str) else None,
                "submitter": submitter,
            },
            "hardware": {
                "accelerator": key,
                "accelerator_count": per_node * nodes,
                "nodes": [{"hostname": f"node {n + 1} of {nodes}", "gpus": per_node} for n in range(nodes)]
                if nodes > 1
                else [],
                "note": f"as published: {row['Accelerator']!r}, {per_node} a node x {nodes} node(s)",
            },
            "input_tokens": 0,
            "output_tokens": max(round(output_tok_s * window), 1),
            "duration_s": window,
            "throughput_window": published.WINDOW_NOTE,
            "output_tok_s": output_tok_s,
            "total_tok_s": output_tok_s,  # the output tokens are all the tokens counted
            "requests_per_s": output_tok_s / per_sample if per_sample else None,
            "energy": published.NO_POWER,
            "source": {
                "file": path.name,
                "tool": f"MLPerf Inference ({division} division, result {result_id}, {submitter})",
                "version": version,
                "url": row.get("Details") if isinstance(row.get("Details"), str) else None,
                "token_definition": TOKEN_DEFINITION,
            },
        },
        f"{path}: [{i}]",
    )


def _tokens_per_sample(accuracy) -> float | None:
    """The accuracy run's mean output tokens a sample (`TOKENS_PER_SAMPLE: 301.1`), where the row gives it."""
    found = re.search(r"TOKENS_PER_SAMPLE:\s*([0-9.]+)", accuracy) if isinstance(accuracy, str) else None
    try:
        value = float(found.group(1)) if found else None
    except ValueError:
        return None
    return value if value and value > 0 else None


def _engine_name(software: str) -> str:
    """The software's leading words before its first version: 'TensorRT 10.11, CUDA 12.9' -> 'TensorRT'."""
    first = software.split(",")[0].strip()
    words = []
    for word in first.split():
        if re.search(r"\d", word):
            break
        words.append(word)
    return " ".join(words) or first or "unknown"
