"""The record: one sweep point as it goes into records.jsonl, defined once for every writer and reader.

Offline and serving points, ok or failed (failed, skipped, interrupted), and
result files of other tools imported to be priced all take this shape. The
sweep's coordinates are fields of their own: `batch_size` for an offline
point, `concurrency` (closed loop) or `request_rate` (open loop) for a serving
point. Sections a point does not have are absent (None). Records written by an
older tokencost are migrated to this schema on read (bench.run.records).
"""

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, model_validator

SCHEMA_VERSION: Final = 4

Status = Literal["ok", "failed", "skipped", "interrupted"]
Mode = Literal["offline", "serve"]


class _Section(BaseModel):
    # Strict: a number written as a string, NaN or infinity is a damaged record, not a value.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ModelInfo(_Section):
    """The model card as it goes into a record (bench.inputs.cards.ModelCard.summary)."""

    name: str
    kind: Literal["dense", "moe", "unknown"]
    display_name: str | None = None
    architecture: str | None = None
    pairs_with: str | None = None
    hf_id: str | None = None
    total_params: int | None = None
    active_params: int | None = None
    weights: Literal["checkpoint", "dummy"] | None = None


class PrecisionInfo(_Section):
    """The formats a point ran its weights and KV cache in (bench.inputs.precision), and what the engine reports."""

    weights: str  # bf16, fp8, fp4, int4; fp16 or fp32 for a run unquantized in that dtype
    kv_cache: str  # bf16 or fp8 (the dtype's name for fp16 and fp32)
    engine_quantization: str | None = None  # vLLM's quantization method as it ran ("None": unquantized)
    engine_kv_cache_dtype: str | None = None  # vLLM's KV cache dtype as it ran ("auto": the model's dtype)
    checkpoint: str | None = None  # the pre-quantized checkpoint it ran from (bench.inputs.checkpoints), if any
    note: str | None = None


class WorkloadInfo(_Section):
    isl: int  # random and shared-prefix: every request's; the other kinds: the mean over the point's requests
    osl: int
    requests_per_batch: int | None = None
    seed: int | None = None
    prompt_format: str | None = None  # serving: token ids or text
    note: str | None = None  # e.g. "mean lengths" for an imported file
    kind: str | None = None  # random (absent in older records), shared-prefix, multi-turn, trace, lengths
    label: str | None = None  # the kind and its parameters in a few words, e.g. "shared-prefix 4x96+32"
    params: dict[str, Any] | None = None  # the kind's own parameters, as the suite gave them


class EngineInfo(BaseModel):
    """What generated the tokens: name, mode, version and the settings that engine reports (its own keys)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    name: str
    mode: str | None = None
    version: str | None = None
    backend: str | None = None
    startup_s: float | None = None
    sampling: str | None = None


class HardwareInfo(_Section):
    """What the model ran on, in the units it is priced by: GPUs, or vCPUs without a GPU."""

    accelerator: str
    accelerator_count: int
    cpu_model: str | None = None
    vcpus: int | None = None
    memory_gb: float | None = None
    machine: str | None = None
    gpus: list[dict[str, Any]] = []  # the engine's GPUs: metered and priced
    idle_gpus: list[
        dict[str, Any]
    ] = []  # visible to the engine's process but not used by it: neither metered nor priced
    # A multi-node engine: one entry per Ray node holding some of its GPUs ({node_id, ip, hostname, gpus: the
    # engine's GPUs there}); empty for one machine. accelerator_count counts the GPUs of every node.
    nodes: list[dict[str, Any]] = []
    ray_node: str | None = None  # the Ray node that measured the point (a fleet sweep)
    note: str | None = None
    # Host memory (never a GPU's), measured once per run before any engine starts (bench.memory_bandwidth);
    # absent in records written before it was, and for a remote endpoint. GB/s are 10^9 bytes per second.
    memory_bandwidth_gb_s: float | None = None  # working set well past the last-level cache
    cache_bandwidth_gb_s: float | None = None  # working set a quarter of the last-level cache
    llc_bytes: int | None = None  # last-level cache of the run's CPUs, every instance summed
    bandwidth_threads: int | None = None  # threads the probe copied with: the CPUs the run may use
    bandwidth_method: str | None = None  # the probe, its working sets and repeats, and what bytes it counts


class SoftwareInfo(_Section):
    python: str | None = None
    packages: dict[str, str] = {}
    git_commit: str | None = None


class EnergyInfo(_Section):
    """Energy over a window, with how and where it was obtained (bench.energy.meters.EnergyReading)."""

    method: str  # nvml-counter, nvml-sampled, rapl (measured); estimated; stated (by the user); none
    boundary: str  # gpu, cpu or none: what the joules cover
    energy_j: float | None
    avg_power_w: float | None
    basis: str
    measured: bool
    duration_s: float | None = None
    per_device_j: list[float | None] = []
    flags: list[str] = []
    sampled_avg_power_w: float | None = None
    # A multi-node engine: each node's reading ({node_id, ip, hostname, method, boundary, energy_j, duration_s
    # (the node's own clock), per_device_j, gpus, flags}), which sum to
    # energy_j, and the most any node's window edge may lie from the driver's (half the longest round trip).
    per_node: list[dict[str, Any]] = []
    edge_skew_s: float | None = None
    idle_power_w: float | None = None  # the run's idle baseline, before any engine (whole-point readings only)
    loaded_idle_power_w: float | None = None  # with the point's engine loaded and no requests


class SteadyState(_Section):
    """The window with the load full and work still queued, or why there was none."""

    reached: bool
    why: str | None = None
    duration_s: float | None = None
    output_tokens: int | None = None
    output_tok_s: float | None = None
    energy: EnergyInfo | None = None
    j_per_output_token: float | None = None


class Check(BaseModel):
    """One validity check: ok (True, False, or None when it cannot be judged) and the values behind it."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    ok: bool | None


class Validity(_Section):
    checks: dict[str, Check] = {}
    all_ok: bool | None = None  # no check failed (one that cannot be judged does not fail)

    @classmethod
    def of(cls, checks: dict[str, dict[str, Any]]) -> "Validity":
        return cls.model_validate({"checks": checks, "all_ok": all(c["ok"] is not False for c in checks.values())})

    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if check.ok is False]


class PrefillProbe(_Section):
    osl: int
    duration_s: float
    input_tokens: int
    output_tokens: int
    note: str | None = None
    cached_tokens: int | None = None  # prompt tokens vLLM served from its prefix cache during the probe


class PrefixCache(_Section):
    """vLLM's prefix cache over a point's measured requests: what its counters saw, beside what the workload implies.

    Hit and query counts are prompt tokens, read from vLLM's `vllm:prefix_cache_hits` and
    `vllm:prefix_cache_queries` counters before and after the point (the engine's stats offline, the server's
    /metrics in serving mode). `implied_*` is what the workload's structure allows: tokens of a request's
    prompt that an earlier request of the point already sent, in whole KV blocks, never the last prompt token.
    """

    enabled: bool  # prefix caching was on in the engine
    salted: bool = False  # every request carried its own cache_salt: nothing could hit (the random floor)
    queries: int | None = None
    hits: int | None = None
    hit_rate: float | None = None  # hits / queries, measured
    implied_hits: int | None = None
    implied_hit_rate: float | None = None  # implied_hits / prompt tokens sent
    block_size: int | None = None  # tokens per KV block, which the implied hits are rounded to
    source: str | None = None  # where the counters came from, or why there are none


class Timeline(_Section):
    file: str
    point: str


LoadModel = Literal["closed-loop concurrency", "open-loop Poisson", "open-loop trace replay"]


class Load(_Section):
    """How a serving point's requests were sent (its coordinate is the record's concurrency or request_rate)."""

    model: LoadModel
    max_concurrency: int | None = None
    num_requests: int | None = None
    steady_window: str | None = None
    warmup_requests: int | None = None


class Distribution(_Section):
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    p90: float | None = None
    p99: float | None = None
    count: int | None = None


class Latency(_Section):
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2e: Distribution


class Goodput(_Section):
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None
    requests_meeting_slo: int | None = None
    share: float | None = None
    requests_per_s: float | None = None


class TierVerdict(_Section):
    """Whether a serving point kept a service-level tier (bench.inputs.tiers), and by how much."""

    met: bool
    limits: dict[str, Any]  # the tier's percentile, ttft_ms, tpot_ms and min_tok_s_user as checked
    ttft_ms: float | None = None  # the point's TTFT at the tier's percentile
    tpot_ms: float | None = None  # its TPOT at that percentile
    tok_s_user: float | None = None  # 1000 / that TPOT
    requests_within: int = 0  # completed requests each within the tier's TTFT and TPOT limits
    output_tokens_within: int = 0
    total_tokens_within: int = 0  # their prompt and output tokens: what the tier's $/M is charged on
    why: str | None = None  # the limits missed, when not met


class Source(_Section):
    """Where an imported record came from."""

    file: str
    tool: str
    date: str | None = None
    version: str | None = None  # published results: their round, commit or run, and the engine's version
    url: str | None = None  # published results: where the row is published
    token_definition: str | None = None  # published results: which tokens their rates count


class PointRecord(_Section):
    schema_version: Literal[4] = SCHEMA_VERSION
    run_id: str
    point: str
    status: Status
    mode: Mode = "offline"
    started_at: str | None = None
    finished_at: str | None = None
    model: ModelInfo
    workload: WorkloadInfo
    engine: EngineInfo
    hardware: HardwareInfo
    software: SoftwareInfo | None = None
    precision: PrecisionInfo | None = None  # absent where unknown (an imported result, an endpoint's)

    # The point's coordinates in the sweep.
    batch_size: int | None = None  # offline: requests in flight
    concurrency: int | None = None  # serving, closed loop: requests in flight
    request_rate: float | None = None  # serving, open loop: requests per second (a trace replay: its mean)
    load: Load | None = None  # serving: how requests were sent

    # What an ok point measured.
    num_requests: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_s: float | None = None
    output_tok_s: float | None = None
    total_tok_s: float | None = None
    requests_per_s: float | None = None
    throughput_window: str | None = None
    energy: EnergyInfo | None = None
    steady_state: SteadyState | None = None
    validity: Validity | None = None
    prefill_probe: PrefillProbe | None = None  # offline: the point's prefill with nothing cached
    # Offline, cache-aware workloads: the same prompts' prefill again, their blocks now in vLLM's prefix cache.
    cached_prefill_probe: PrefillProbe | None = None
    prefix_cache: PrefixCache | None = None  # vLLM engines: the cache's hits over the measured point
    timeline: Timeline | None = None  # GPU runs: power samples beside the records

    # What a serving point measured on the client.
    requests_completed: int | None = None
    requests_failed: int | None = None
    latency_ms: Latency | None = None
    interactivity_tok_s_user: float | None = None
    interactivity_p90_tok_s_user: float | None = None
    interactivity_definition: str | None = None
    goodput: Goodput | None = None
    max_concurrent_requests: int | None = None
    requests_file: str | None = None
    tiers: dict[str, TierVerdict] | None = None  # every service-level tier of the run, checked
    repeat: int | None = None  # which measurement of the same point this is (0 first), where repeated

    # Why a point did not complete.
    failure: str | None = None  # out-of-memory, timeout, engine-died, engine-start, context-exceeded, ...
    error_class: str | None = None
    error: str | None = None

    source: Source | None = None  # imported from another tool's result file

    @model_validator(mode="after")
    def _complete(self) -> "PointRecord":
        if self.status == "ok":
            missing = [
                f
                for f in ("input_tokens", "output_tokens", "duration_s", "output_tok_s", "energy")
                if getattr(self, f) is None
            ]
            if missing:
                raise ValueError(f"an ok point needs {', '.join(missing)}")
            assert self.duration_s is not None and self.output_tokens is not None and self.output_tok_s is not None
            assert self.input_tokens is not None  # all among `missing` above
            if not self.duration_s > 0:
                raise ValueError(f"duration_s is {self.duration_s}; an ok point lasts a positive time")
            if not (self.output_tokens > 0 and self.output_tok_s > 0):
                raise ValueError(
                    f"output_tokens is {self.output_tokens} and output_tok_s {self.output_tok_s}; "
                    "an ok point generated tokens"
                )
            if self.input_tokens < 0:
                raise ValueError(f"input_tokens is {self.input_tokens}; a count is never negative")
        elif self.failure is None or self.error is None:
            raise ValueError(f"a {self.status} point needs its failure and error")
        if self.mode == "serve" and self.load is None:
            raise ValueError("a serving point needs its load")
        return self

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The record as written: fields never set are left out."""
        return self.model_dump(mode="json", exclude_unset=True) | {"schema_version": SCHEMA_VERSION}
