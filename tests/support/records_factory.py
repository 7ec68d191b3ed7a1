"""Records for tests of pricing and reporting, made through the record schema (bench.run.record)."""

from pathlib import Path

from bench.run.record import PointRecord, Validity
from bench.run.records import RecordWriter


def point_record(model="tiny-dense", kind="dense", batch=1, output_tok_s=100.0, power_w=5.0,
                 accelerator="CPU (Intel(R) Xeon(R) Processor)", units=2, method="estimated", status="ok",
                 prefill_s=None, isl=16, osl=16, run_id="test-run", **fields) -> PointRecord:
    """An offline point of `duration` 10 s; `fields` set or replace any other record field."""
    duration = 10.0
    output_tokens = int(output_tok_s * duration)
    record = {
        "run_id": run_id,
        "point": f"{model}/vllm/batch{batch}/isl{isl}/osl{osl}",
        "status": status,
        "mode": "offline",
        "model": {"name": model, "kind": kind, "total_params": 1000, "active_params": 500,
                  "pairs_with": "tiny-dense" if kind == "moe" else None},
        "workload": {"isl": isl, "osl": osl},
        "engine": {"name": "vllm", "version": "0.32.0"},
        "batch_size": batch,
        "hardware": {"accelerator": accelerator, "accelerator_count": units, "cpu_model": accelerator, "gpus": []},
    }
    if status == "ok":
        record |= {
            "num_requests": output_tokens // osl,
            "input_tokens": output_tokens,
            "output_tokens": output_tokens,
            "duration_s": duration,
            "output_tok_s": output_tok_s,
            "total_tok_s": 2 * output_tok_s,
            "energy": {"method": method, "boundary": "cpu" if method == "estimated" else "gpu",
                       "energy_j": power_w * duration, "avg_power_w": power_w, "basis": "test basis",
                       "measured": method != "estimated"},
            "validity": Validity.of({"window_length": {"ok": duration >= 30, "seconds": duration, "minimum_s": 30},
                                     "power_in_range": {"ok": None}}),
        }
    else:
        record |= {"failure": "error", "error": "it failed", "error_class": "RuntimeError"}
    if prefill_s is not None:
        record["prefill_probe"] = {"osl": 1, "duration_s": prefill_s, "input_tokens": output_tokens,
                                   "output_tokens": 0}
    return PointRecord(**(record | fields))


def synthetic_h100_records() -> list[PointRecord]:
    """SYNTHETIC records, made up and never measured: the CPU demo's vLLM points (tiny-dense and tiny-moe,
    batch 1-64, ISL/OSL 128/128) as if run on one H100, to give reports a second hardware key to compare."""
    return [
        point_record(model, kind, batch, tok_s, power_w=300.0, accelerator="NVIDIA H100 80GB HBM3", units=1,
                     method="nvml-counter", isl=128, osl=128, run_id="synthetic-h100",
                     started_at="2026-11-28T10:00:00+00:00", finished_at="2026-11-28T10:30:00+00:00",
                     software={"python": "3.11.7", "packages": {"vllm": "0.32.0"}, "git_commit": "synthetic"})
        for model, kind in (("tiny-dense", "dense"), ("tiny-moe", "moe"))
        for batch, tok_s in ((1, 2_000.0), (4, 7_000.0), (16, 20_000.0), (64, 50_000.0))
    ]


def write_run(run_dir, *records: PointRecord) -> Path:
    """A run directory holding these records, written as `tokencost run` writes them."""
    run_dir = Path(run_dir)
    writer = RecordWriter(run_dir)
    for record in records:
        writer.append(record)
    return run_dir
