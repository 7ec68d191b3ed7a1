"""Records for tests of pricing and reporting, made through the record schema (bench.run.record)."""

from pathlib import Path

from bench.run.record import PointRecord, Validity
from bench.run.records import RecordWriter


def point_record(
    model="tiny-dense",
    kind="dense",
    batch=1,
    output_tok_s=100.0,
    power_w=5.0,
    accelerator="CPU (Intel(R) Xeon(R) Processor)",
    units=2,
    method="estimated",
    status="ok",
    prefill_s=None,
    isl=16,
    osl=16,
    run_id="test-run",
    **fields,
) -> PointRecord:
    """An offline point of `duration` 10 s; `fields` set or replace any other record field."""
    duration = 10.0
    output_tokens = int(output_tok_s * duration)
    record = {
        "run_id": run_id,
        "point": f"{model}/vllm/batch{batch}/isl{isl}/osl{osl}",
        "status": status,
        "mode": "offline",
        "model": {
            "name": model,
            "kind": kind,
            "total_params": 1000,
            "active_params": 500,
            "pairs_with": "tiny-dense" if kind == "moe" else None,
        },
        "workload": {"isl": isl, "osl": osl},
        "engine": {"name": "vllm", "version": "0.32.0"},
        "precision": {"weights": "bf16", "kv_cache": "bf16"},  # as every point of a run of ours says
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
            "energy": {
                "method": method,
                "boundary": "cpu" if method == "estimated" else "gpu",
                "energy_j": power_w * duration,
                "avg_power_w": power_w,
                "basis": "test basis",
                "measured": method != "estimated",
            },
            "validity": Validity.of(
                {
                    "window_length": {"ok": duration >= 30, "seconds": duration, "minimum_s": 30},
                    "power_in_range": {"ok": None},
                }
            ),
        }
    else:
        record |= {"failure": "error", "error": "it failed", "error_class": "RuntimeError"}
    if prefill_s is not None:
        record["prefill_probe"] = {"osl": 1, "duration_s": prefill_s, "input_tokens": output_tokens, "output_tokens": 0}
    return PointRecord(**(record | fields))


def workload_record(
    workload_kind="shared-prefix",
    label="shared-prefix 4x384+128/128",
    input_tokens=4000,
    hits=2400,
    implied_hits=2400,
    probe_s=2.0,
    cached_probe_s=0.9,
    cached_probe_hits=2400,
    isl=512,
    osl=128,
    **kwargs,
) -> PointRecord:
    """An offline vLLM point (point_record's, 1000 output tokens over 10 s by default) of `workload_kind` with
    vLLM's prefix-cache counters: `hits` of its `input_tokens` (None: not counted), `implied_hits` by its
    structure. Its uncached prefill probe takes `probe_s` for all its prompts; a cache-aware kind also has the
    cached probe, `cached_probe_s` with `cached_probe_hits` hits. "random" is the floor: its requests salted
    apart, nothing hits, no cached probe, and its workload written as a random record's (no kind)."""
    random = workload_kind == "random"
    cache = {
        "enabled": True,
        "salted": random,
        "queries": input_tokens,
        "hits": 0 if random else hits,
        "implied_hits": 0 if random else implied_hits,
        "block_size": 16,
        "source": "test counters",
    }
    cache |= {
        "hit_rate": cache["hits"] / input_tokens if cache["hits"] is not None else None,
        "implied_hit_rate": cache["implied_hits"] / input_tokens,
    }
    fields = {
        "workload": {"isl": isl, "osl": osl} | ({} if random else {"kind": workload_kind, "label": label}),
        "input_tokens": input_tokens,
        "prefix_cache": cache,
        "prefill_probe": {
            "osl": 1,
            "duration_s": probe_s,
            "input_tokens": input_tokens,
            "output_tokens": 0,
            "cached_tokens": 0,
        },
    }
    if not random:
        fields["cached_prefill_probe"] = {
            "osl": 1,
            "duration_s": cached_probe_s,
            "input_tokens": input_tokens,
            "output_tokens": 0,
            "cached_tokens": cached_probe_hits,
        }
    record = point_record(isl=isl, osl=osl, **(fields | kwargs))
    return record.model_copy(
        update={
            "point": record.point if random else record.point.replace(f"isl{isl}/osl{osl}", label),
            "total_tok_s": (record.input_tokens + record.output_tokens) / record.duration_s,
        }
    )


def synthetic_h100_records() -> list[PointRecord]:
    """SYNTHETIC records, made up and never measured: the CPU demo's vLLM points (tiny-dense and tiny-moe,
    batch 1-64, ISL/OSL 128/128) as if run on one H100, to give reports a second hardware key to compare."""
    return [
        point_record(
            model,
            kind,
            batch,
            tok_s,
            power_w=300.0,
            accelerator="NVIDIA H100 80GB HBM3",
            units=1,
            method="nvml-counter",
            isl=128,
            osl=128,
            run_id="synthetic-h100",
            started_at="2026-11-28T10:00:00+00:00",
            finished_at="2026-11-28T10:30:00+00:00",
            software={"python": "3.11.7", "packages": {"vllm": "0.32.0"}, "git_commit": "synthetic"},
        )
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


def tier_verdict(
    tier="chat", met=True, requests_within=40, total_tokens_within=10_240, output_tokens_within=None, **fields
) -> dict:
    """A serving point's verdict on one service-level tier, the tier's limits as shipped (bench/inputs/tiers.toml).
    `fields` set or replace any other TierVerdict field (ttft_ms, tpot_ms, why, ...)."""
    from bench.inputs.tiers import shipped_tiers

    return {
        "met": met,
        "limits": shipped_tiers()[tier].limits(),
        "requests_within": requests_within,
        "output_tokens_within": total_tokens_within // 2 if output_tokens_within is None else output_tokens_within,
        "total_tokens_within": total_tokens_within,
        **({} if met else {"why": "a limit missed"}),
        **fields,
    }


def serve_record(
    model="tiny-dense",
    kind="dense",
    concurrency=4,
    request_rate=None,
    output_tok_s=1000.0,
    duration_s=10.0,
    requests=40,
    ttft_ms=100.0,
    tpot_ms=10.0,
    e2e_ms=1000.0,
    tiers=None,
    repeat=None,
    accelerator="NVIDIA H100 80GB HBM3",
    units=1,
    power_w=300.0,
    isl=128,
    osl=128,
    run_id="serve-run",
    **fields,
) -> PointRecord:
    """A serving point through vLLM's server, closed loop at `concurrency` (or open loop at `request_rate`):
    `output_tok_s` over `duration_s` (as many input tokens as output), `requests` completed, every latency
    distribution centred on its value (p90 and p99 10 % and 20 % above the median). `tiers`: tier name ->
    tier_verdict(); `repeat`: which measurement of the point this is (its key gets /repeat{i} from 1 on).
    `fields` set or replace any other record field."""
    output_tokens = int(output_tok_s * duration_s)
    key = serve_key(model, concurrency, request_rate, repeat or 0, isl, osl)

    def spread(value):
        return {"mean": value, "median": value, "p90": 1.1 * value, "p99": 1.2 * value, "count": requests}

    record = {
        "run_id": run_id,
        "point": key,
        "status": "ok",
        "mode": "serve",
        "model": {
            "name": model,
            "kind": kind,
            "total_params": 1000,
            "active_params": 500,
            "pairs_with": "tiny-dense" if kind == "moe" else None,
        },
        "workload": {"isl": isl, "osl": osl, "kind": "random", "label": f"random {isl}/{osl}"},
        "engine": {"name": "vllm", "mode": "serve", "version": "0.32.0"},
        "hardware": {"accelerator": accelerator, "accelerator_count": units, "gpus": []},
        "load": {
            "model": "closed-loop concurrency" if request_rate is None else "open-loop Poisson",
            "num_requests": requests,
        },
        **({"concurrency": concurrency} if request_rate is None else {"request_rate": float(request_rate)}),
        "num_requests": requests,
        "requests_completed": requests,
        "requests_failed": 0,
        "input_tokens": output_tokens,
        "output_tokens": output_tokens,
        "duration_s": duration_s,
        "output_tok_s": output_tok_s,
        "total_tok_s": 2 * output_tok_s,
        "requests_per_s": requests / duration_s,
        "energy": {
            "method": "nvml-counter",
            "boundary": "gpu",
            "energy_j": power_w * duration_s,
            "avg_power_w": power_w,
            "basis": "test basis",
            "measured": True,
        },
        "latency_ms": {"ttft": spread(ttft_ms), "tpot": spread(tpot_ms), "itl": spread(tpot_ms), "e2e": spread(e2e_ms)},
        "interactivity_tok_s_user": 1000.0 / tpot_ms,
        "interactivity_p90_tok_s_user": 1000.0 / (1.1 * tpot_ms),
        "goodput": {
            "slo_ttft_ms": 2000.0,
            "slo_tpot_ms": 200.0,
            "requests_meeting_slo": requests,
            "share": 1.0,
            "requests_per_s": requests / duration_s,
        },
    }
    if tiers is not None:
        record["tiers"] = tiers
    if repeat is not None:
        record["repeat"] = repeat
    return PointRecord(**(record | fields))


def serve_key(model="tiny-dense", concurrency=4, request_rate=None, repeat=0, isl=128, osl=128) -> str:
    """A serving point's record key as the sweep writes it (bench.serve.sweep), repeats from 1 on suffixed."""
    at = f"conc{concurrency}" if request_rate is None else f"rate{request_rate:g}"
    return f"{model}/vllm-serve/{at}/isl{isl}/osl{osl}" + (f"/repeat{repeat}" if repeat else "")


def capacity_outcome(
    tier="chat",
    status="found",
    capacity=8,
    first_failing=16,
    load="concurrency",
    repeats=3,
    model="tiny-dense",
    tried=None,
    **fields,
) -> dict:
    """One capacity search's line of capacity.jsonl (bench.serve.capacity.Outcome): by default closed loop, the
    tier kept at `capacity` by all `repeats` measurements there (their keys its points) and failed above it."""
    if tried is None:
        tried = {} if capacity is None else {f"{capacity:g}": [True] * repeats}
        tried |= (
            {f"{first_failing:g}": [False] * (repeats if status == "never" else 1)} if first_failing is not None else {}
        )
    points = (
        []
        if capacity is None
        else [
            serve_key(model, int(capacity), repeat=r)
            if load == "concurrency"
            else serve_key(model, None, capacity, repeat=r)
            for r in range(repeats)
        ]
    )
    return {
        "model": model,
        "workload": "random 128/128",
        "workload_key": "isl128/osl128",
        "tier": tier,
        "load": load,
        "status": status,
        "capacity": capacity,
        "first_failing": first_failing,
        "tolerance": 0.1,
        "repeats": repeats,
        "maximum": 256.0,
        "tried": tried,
        "points": points,
        "note": None,
        **fields,
    }


def write_capacity(run_dir, *outcomes: dict) -> Path:
    """capacity.jsonl in a run directory, one line per search outcome (bench.serve.capacity.Outcome's fields)."""
    import json

    path = Path(run_dir) / "capacity.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for outcome in outcomes:
            f.write(json.dumps(outcome) + "\n")
    return path
