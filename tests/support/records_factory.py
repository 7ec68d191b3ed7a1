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


def workload_record(workload_kind="shared-prefix", label="shared-prefix 4x384+128/128", input_tokens=4000, hits=2400,
                    implied_hits=2400, probe_s=2.0, cached_probe_s=0.9, cached_probe_hits=2400, isl=512, osl=128,
                    **kwargs) -> PointRecord:
    """An offline vLLM point (point_record's, 1000 output tokens over 10 s by default) of `workload_kind` with
    vLLM's prefix-cache counters: `hits` of its `input_tokens` (None: not counted), `implied_hits` by its
    structure. Its uncached prefill probe takes `probe_s` for all its prompts; a cache-aware kind also has the
    cached probe, `cached_probe_s` with `cached_probe_hits` hits. "random" is the floor: its requests salted
    apart, nothing hits, no cached probe, and its workload written as a random record's (no kind)."""
    random = workload_kind == "random"
    cache = {"enabled": True, "salted": random, "queries": input_tokens, "hits": 0 if random else hits,
             "implied_hits": 0 if random else implied_hits, "block_size": 16, "source": "test counters"}
    cache |= {"hit_rate": cache["hits"] / input_tokens if cache["hits"] is not None else None,
              "implied_hit_rate": cache["implied_hits"] / input_tokens}
    fields = {"workload": {"isl": isl, "osl": osl} | ({} if random else {"kind": workload_kind, "label": label}),
              "input_tokens": input_tokens, "prefix_cache": cache,
              "prefill_probe": {"osl": 1, "duration_s": probe_s, "input_tokens": input_tokens, "output_tokens": 0,
                                "cached_tokens": 0}}
    if not random:
        fields["cached_prefill_probe"] = {"osl": 1, "duration_s": cached_probe_s, "input_tokens": input_tokens,
                                          "output_tokens": 0, "cached_tokens": cached_probe_hits}
    record = point_record(isl=isl, osl=osl, **(fields | kwargs))
    return record.model_copy(update={
        "point": record.point if random else record.point.replace(f"isl{isl}/osl{osl}", label),
        "total_tok_s": (record.input_tokens + record.output_tokens) / record.duration_s,
    })


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
