"""Records shaped like bench's, for tests of pricing and reporting."""


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
