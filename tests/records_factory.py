"""Records shaped like bench's, for tests of pricing and reporting."""

import json
from pathlib import Path


def point_record(model="tiny-dense", kind="dense", batch=1, output_tok_s=100.0, power_w=5.0,
                 accelerator="CPU (Intel(R) Xeon(R) Processor)", units=2, method="estimated", status="ok",
                 prefill_s=None):
    duration = 10.0
    output_tokens = int(output_tok_s * duration)
    record = {
        "schema_version": 1,
        "run_id": "test-run",
        "point": f"{model}/batch{batch}/isl16/osl16",
        "status": status,
        "model": {"name": model, "kind": kind, "total_params": 1000, "active_params": 500,
                  "pairs_with": "tiny-dense" if kind == "moe" else None},
        "workload": {"isl": 16, "osl": 16},
        "engine": {"name": "vllm", "version": "0.32.0", "batch_size": batch},
        "hardware": {"accelerator": accelerator, "accelerator_count": units, "cpu_model": accelerator, "gpus": []},
        "num_requests": output_tokens // 16,
        "input_tokens": output_tokens,
        "output_tokens": output_tokens,
        "duration_s": duration,
        "output_tok_s": output_tok_s,
        "total_tok_s": 2 * output_tok_s,
        "energy": {
            "method": method, "boundary": "cpu" if method == "estimated" else "gpu",
            "energy_j": power_w * duration, "avg_power_w": power_w,
            "basis": "test basis", "measured": method != "estimated",
        },
    }
    record["validity"] = {"window_length": {"ok": duration >= 30, "seconds": duration, "minimum_s": 30},
                          "power_in_range": {"ok": None}, "all_ok": duration >= 30}
    if prefill_s is not None:
        record["prefill_probe"] = {"osl": 1, "duration_s": prefill_s, "input_tokens": output_tokens, "output_tokens": 0}
    return record


def synthetic_h100_records() -> list[dict]:
    """SYNTHETIC records, made up and never measured: the CPU demo's vLLM points (tiny-dense and tiny-moe,
    batch 1-64, ISL/OSL 128/128) as if run on one H100, to give reports a second hardware key to compare."""
    records = []
    for model, kind in (("tiny-dense", "dense"), ("tiny-moe", "moe")):
        for batch, tok_s in ((1, 2_000.0), (4, 7_000.0), (16, 20_000.0), (64, 50_000.0)):
            record = point_record(model, kind, batch, tok_s, power_w=300.0, accelerator="NVIDIA H100 80GB HBM3",
                                  units=1, method="nvml-counter")
            record.update(run_id="synthetic-h100", point=f"{model}/vllm/batch{batch}/isl128/osl128",
                          workload={"isl": 128, "osl": 128}, started_at="2026-11-28T10:00:00+00:00",
                          finished_at="2026-11-28T10:30:00+00:00",
                          software={"python": "3.11.7", "packages": {"vllm": "0.32.0"}, "git_commit": "synthetic"})
            records.append(record)
    return records


def write_run(run_dir, records: list[dict]):
    """A run directory holding these records, as `tokencost run` writes them."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir
