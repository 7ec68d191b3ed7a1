"""A suite: which models, which batch sizes, which workload and engine settings."""

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bench.environment import on_cpu_backend
from bench.errors import UserError
from bench.inputs.flags import Flag, options
from bench.inputs.precision import BF16, Precision
from bench.inputs.tiers import Tier, tiers_of
from bench.inputs.workload import MAX_REQUESTS_PER_SLOT, MAX_TOKENS, SharedPrefixSettings, Workload
from bench.validation import parse

# Caps far above any real deployment, so a typo (an extra digit, an exponent) is refused with one line
# before any engine or server starts, whether it came from a suite file or a command-line flag.
MAX_IN_FLIGHT = 65_536  # batch sizes, concurrencies, max_concurrency: sequences one deployment holds at once
MAX_PARALLEL = 1_024  # each of tensor, pipeline and data parallel size
MAX_GPUS = 65_536  # GPUs behind a remote endpoint
MAX_REQUESTS_PER_RATE = 1_000_000  # requests of one open-loop point
MAX_REQUEST_RATE = 100_000.0  # requests per second of an open-loop point
MAX_SLO_MS = 3_600_000.0  # an hour: a goodput SLO on TTFT or TPOT
MAX_WAIT_S = 86_400.0  # a day: startup timeouts and a point's timeout


# Whole counts from 1 up to a cap. Plain aliases, not built by a function, so that type checkers read them.
ParallelSize = Annotated[int, Field(strict=True, gt=0, le=MAX_PARALLEL)]
Tokens = Annotated[int, Field(strict=True, gt=0, le=MAX_TOKENS)]
InFlight = Annotated[int, Field(strict=True, gt=0, le=MAX_IN_FLIGHT)]
RequestsPerSlot = Annotated[int, Field(strict=True, gt=0, le=MAX_REQUESTS_PER_SLOT)]
RequestsPerRate = Annotated[int, Field(strict=True, gt=0, le=MAX_REQUESTS_PER_RATE)]
GpuCount = Annotated[int, Field(strict=True, gt=0, le=MAX_GPUS)]
Repeats = Annotated[int, Field(strict=True, gt=0, le=1_000)]

# Positive amounts up to a cap; the cap also refuses inf and nan, and strict refuses true and false.
RequestRate = Annotated[float, Field(strict=True, gt=0, le=MAX_REQUEST_RATE)]  # also a concurrency, for capacity_max
SloMs = Annotated[float, Field(strict=True, gt=0, le=MAX_SLO_MS)]
WaitS = Annotated[float, Field(strict=True, gt=0, le=MAX_WAIT_S)]


def _each_once(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A list setting that names a value twice would measure (or search) it twice: refused."""
    twice = next((value for i, value in enumerate(values) if value in values[:i]), None)
    if twice is not None:
        raise ValueError(f"names {twice} more than once; give each value once")
    return values


EachOnce = AfterValidator(_each_once)


# The `--help` sections of the flags that set serving and fleet settings.
SERVING = "serving mode (--mode serve)"
FLEET = "many machines (needs tokencost-bench[ray])"

# vLLM, and the naive transformers baseline that shows what vLLM's batching buys (bench.engines.ENGINES).
EngineName = Literal["vllm", "transformers"]


class EngineSettings(BaseModel):
    """Settings every engine and vLLM's server take from a suite's [engine] table."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    tensor_parallel_size: ParallelSize = 1
    pipeline_parallel_size: ParallelSize = 1
    data_parallel_size: ParallelSize = 1  # serve mode only: vLLM's offline engine runs one replica
    # On the CPU backend, the share of host memory given to the KV cache; unset there, the KV cache is sized to the
    # engine's sequences instead (bench.inputs.fit.engine_memory_arguments).
    gpu_memory_utilization: Annotated[float, Field(strict=True, gt=0, le=1)] | None = None
    max_model_len: Tokens | None = None  # and at most the card's context (checked before a run)
    # Tokens a scheduler step may batch; vLLM's default differs between its LLM class and its server.
    max_num_batched_tokens: Tokens | None = None
    # True skips torch.compile and graph capture: faster start, slower steps.
    enforce_eager: bool = False
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    # vLLM's own limit on an engine core becoming ready (weights, compile, graphs), then the start fails.
    startup_timeout_s: WaitS = 900.0
    # "ray": vLLM's Ray backend, whose tensor and pipeline parallel workers may span the nodes of the Ray
    # cluster given by --ray-address (CUDA GPUs only: vLLM's CPU build has no Ray backend).
    executor: Literal["default", "ray"] = "default"
    # The arm of the suite's precision axis an engine runs: set from the suite's `precisions`, not in [engine].
    precision: Precision = BF16

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    @property
    def gpus(self) -> int:
        """How many GPUs a vLLM engine with these settings uses: tensor x pipeline x data parallel."""
        return self.gpus_per_replica * self.data_parallel_size

    def memory_share(self, on_gpu: bool | None = None) -> float:
        """gpu_memory_utilization, defaulting to 0.3 of host memory on a CPU and 0.9 of a GPU's.

        `on_gpu` None: whichever this machine's vLLM build runs on."""
        on_gpu = not on_cpu_backend() if on_gpu is None else on_gpu
        return self.gpu_memory_utilization or (0.9 if on_gpu else 0.3)


class ServeSettings(BaseModel):
    """Serving mode: load models, SLOs and the server (started here, or an existing `endpoint`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Closed loop (InferenceX): this many requests in flight; at least concurrency x requests_per_concurrency
    # requests, in rounds of the concurrency until the point has lasted min_window_s.
    concurrencies: Annotated[
        tuple[InFlight, ...],
        EachOnce,
        Flag("--concurrency", "closed-loop concurrencies, e.g. 1,4,16,64", group=SERVING),
    ] = (1, 4, 16)
    requests_per_concurrency: RequestsPerSlot = 4
    # Open loop (vllm bench serve): Poisson arrivals at these rates, requests per second.
    request_rates: Annotated[
        tuple[RequestRate, ...],
        EachOnce,
        Flag("--request-rates", "open-loop Poisson request rates per second, e.g. 1,4", group=SERVING),
    ] = ()
    requests_per_rate: RequestsPerRate = 32
    max_concurrency: InFlight | None = None  # cap on requests in flight under a rate
    warmup: bool = True  # warm-up requests before each point, excluded from its metrics
    # Goodput counts requests within both SLOs.
    slo_ttft_ms: Annotated[
        SloMs | None, Flag("--slo-ttft-ms", "goodput SLO on time to first token, in ms", group=SERVING)
    ] = 2000.0
    slo_tpot_ms: Annotated[
        SloMs | None,
        Flag("--slo-tpot-ms", "goodput SLO on time per output token, in ms", group=SERVING),
    ] = 200.0
    prompt_format: Literal["token-ids", "text"] = "token-ids"  # text: decoded with the card's tokenizer
    server_args: tuple[str, ...] = ()  # passed to vLLM's server as they are, e.g. ["--max-num-batched-tokens", "8192"]
    startup_timeout_s: WaitS = 900.0
    repeats: Annotated[
        Repeats,
        Flag(
            "--repeats",
            "measure each serving point this many times; tables show the median and the spread",
            group=SERVING,
        ),
    ] = 1
    # Capacity search: per model and workload, the highest load meeting each of these tiers (bench.serve.capacity).
    capacity: Annotated[
        tuple[Annotated[str, Field(min_length=1)], ...],
        EachOnce,
        Flag(
            "--capacity",
            "search the highest load each model keeps each tier at (tiers: tokencost tiers)",
            metavar="TIER[,TIER]",
            group=SERVING,
        ),
    ] = ()
    capacity_load: Annotated[
        Literal["concurrency", "rate"],
        Flag("--capacity-load", "search closed-loop concurrency or open-loop request rate", group=SERVING),
    ] = "concurrency"
    capacity_max: RequestRate = 256.0  # the highest concurrency or rate tried
    capacity_start_rate: RequestRate = 1.0  # open loop: the first rate tried
    capacity_tolerance: Annotated[float, Field(strict=True, gt=0, le=1)] = (
        0.1  # bisection stops within this share of the load
    )
    capacity_repeats: Repeats = 3  # measurements of each load tried while bisecting (a majority decides)
    # An OpenAI-compatible server that is already running (vLLM, SGLang, TGI, TensorRT-LLM): nothing is started.
    endpoint: Annotated[
        Annotated[str, Field(pattern=r"^https?://")] | None,
        Flag(
            "--endpoint",
            "measure an OpenAI-compatible server already running at this URL "
            "(SGLang, TGI, TensorRT-LLM, vLLM) instead of starting vLLM",
            group=SERVING,
        ),
    ] = None
    endpoint_model: str | None = None  # the served model name (default: the server's first model)
    api_key_env: str | None = None  # name of the environment variable holding the endpoint's API key
    # What serves a remote endpoint, for pricing (a local endpoint is described from this machine).
    endpoint_accelerator: Annotated[
        str | None,
        Flag("--endpoint-gpu", "a remote endpoint's GPU, for pricing (catalog key, e.g. h100-sxm)", group=SERVING),
    ] = None
    endpoint_accelerator_count: Annotated[
        GpuCount, Flag("--endpoint-gpus", "a remote endpoint's GPU count", group=SERVING)
    ] = 1


# A Ray accelerator type, as Ray names a GPU node's `accelerator_type:<T>` resource (H100, A100, L4, ...).
AcceleratorType = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")]


class FleetSettings(BaseModel):
    """A fleet sweep over a Ray cluster (`tokencost run --ray-address`): one group of points per model and
    accelerator type, each measured on one node that has it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Each model is measured once on each of these; empty: once per model, on any node with the engine's GPUs.
    accelerators: Annotated[
        tuple[AcceleratorType, ...],
        Flag(
            "--accelerators",
            "with --ray-address: measure each model on each of these Ray accelerator types (e.g. H100,A100)",
            metavar="TYPE[,TYPE]",
            group=FLEET,
        ),
    ] = ()


class Suite(BaseModel):
    """The embedded defaults are the CPU demo: two tiny models, a short batch sweep."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    models: Annotated[
        tuple[Annotated[str, Field(min_length=1)], ...],
        Field(min_length=1),
        Flag(
            "--models",
            "comma-separated models: cards of models/, card folders or Hugging Face ids, e.g. tiny-dense,tiny-moe",
        ),
    ] = ("tiny-dense", "tiny-moe")
    batch_sizes: Annotated[
        tuple[InFlight, ...],
        Field(min_length=1),
        EachOnce,
        Flag("--batch-sizes", "comma-separated batch sizes, e.g. 1,4,16"),
    ] = (1, 16, 64)  # one latency-bound, one mid and one throughput-bound point per model
    # The naive transformers baseline is asked for by name (--engines vllm,transformers): its points are the
    # slowest of a run, and what it shows, vLLM against no serving engine, is not what a token costs.
    engines: Annotated[
        tuple[EngineName, ...],
        Field(min_length=1),
        EachOnce,
        Flag("--engines", "comma-separated engines: vllm, transformers"),
    ] = ("vllm",)
    workload: Workload = Workload()
    # More workloads measured beside `workload` with the same engine, e.g. the random floor and a shared-prefix
    # mix; each at those of the suite's batch sizes (serving: concurrencies) that its own `batch_sizes` lists,
    # or at all of them.
    extra_workloads: tuple[Workload, ...] = ()
    engine: EngineSettings = EngineSettings()
    # The precision axis: each model is measured in each of these (weights and KV cache formats,
    # bench.inputs.precision), every arm on an engine of its own. bf16 alone by default.
    precisions: Annotated[tuple[Precision, ...], Field(min_length=1), EachOnce] = (BF16,)
    warmup: bool = True
    prefill_probe: bool = True  # time a prefill-only pass per point, to split input and output cost
    # A measured point keeps adding requests (beyond workload.requests_per_batch per batch slot) until it has
    # lasted this long, and a shorter window is flagged in its checks. NVML's counter ticks every ~100 ms,
    # so 10 s bounds that error under 1%; 0 sizes points by request count alone.
    min_window_s: Annotated[
        float,
        Field(strict=True, ge=0, le=3600),  # an hour a point at most
        Flag(
            "--min-window-s",
            "each point keeps adding requests until it has lasted this long; shorter is flagged "
            "(0 sizes points by request count alone)",
        ),
    ] = 10.0
    point_timeout_s: WaitS | None = None  # a point running longer is recorded as failed
    mode: Annotated[
        Literal["offline", "serve"],
        Flag(
            "--mode",
            "offline: batches through vLLM's engine; serve: requests to vLLM's "
            "OpenAI-compatible server, with latencies and cost against interactivity",
            group=SERVING,
        ),
    ] = "offline"
    serve: ServeSettings = ServeSettings()
    tiers: dict[str, Tier] = {}  # service-level tiers of this suite, beside (or replacing) the shipped ones
    fleet: FleetSettings = FleetSettings()
    # Dense-vs-MoE pairs for this suite, MoE card -> dense card, overriding the cards' own pairs_with
    # (a run logs each MoE model's pair, or that its dense model is not in the run).
    pairs: dict[str, str] = {}

    def to_record(self) -> dict:
        return self.model_dump(mode="json")

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return (self.workload, *self.extra_workloads)

    def batch_sizes_for(self, workload: Workload) -> tuple[int, ...]:
        return _among(self.batch_sizes, workload.batch_sizes)

    def concurrencies_for(self, workload: Workload) -> tuple[int, ...]:
        return _among(self.serve.concurrencies, workload.batch_sizes)

    def engine_for(self, precision: Precision) -> EngineSettings:
        """The [engine] settings of one arm of the precision axis."""
        return self.engine.model_copy(update={"precision": precision})

    def engines_for(self, workload: Workload) -> tuple[str, ...]:
        """The engines that run a workload: the transformers baseline has no prefix cache and runs random only."""
        return tuple(e for e in self.engines if e == "vllm" or workload.kind == "random")

    def check(self) -> None:
        """Settings that are valid one by one but not together; a UserError before any engine starts."""
        engine = self.engine
        self._check_precisions()
        if self.mode == "offline" and engine.data_parallel_size > 1:
            raise UserError(
                "engine.data_parallel_size",
                f"is {engine.data_parallel_size} in offline mode, where vLLM runs one replica",
                "use mode = 'serve' for data parallel, or set it to 1",
            )
        if self.mode == "offline" and "transformers" in self.engines and engine.gpus > 1:
            raise UserError(
                "engines",
                f"the transformers baseline runs on one GPU, and the [engine] settings ask for {engine.gpus}",
                "run the baseline in a suite of its own with parallel sizes 1",
            )
        if engine.executor == "ray" and "transformers" in self.engines:
            raise UserError(
                "engine.executor",
                "'ray' is vLLM's Ray backend, and the transformers baseline has none",
                "run the baseline in a suite of its own with executor = 'default'",
            )
        accelerators = [a.lower() for a in self.fleet.accelerators]
        if len(set(accelerators)) < len(accelerators):
            raise UserError("fleet.accelerators", "names an accelerator type twice", "name each type once")
        keys = [w.key() for w in self.workloads]
        if len(set(keys)) < len(keys):
            twice = next(w for w in self.workloads if keys.count(w.key()) > 1)
            raise UserError(
                "extra_workloads",
                f"holds two workloads labelled '{twice.label}' (or the main one again)",
                "give each workload once, with kind settings that tell them apart",
            )
        for workload in self.workloads:
            workload.check_inputs()
        known = tiers_of(self.tiers)
        for name in self.serve.capacity:
            if name not in known:
                raise UserError(
                    "serve.capacity",
                    f"names the tier '{name}', which is not defined",
                    f"use one of: {', '.join(sorted(known))}, or define it under [tiers.{name}]",
                )
        if self.serve.capacity and self.mode != "serve":
            raise UserError(
                "serve.capacity",
                "searches serving capacity, and the mode is offline",
                "use mode = 'serve' (--mode serve)",
            )
        if self.serve.prompt_format == "text" and any(w.kind != "random" for w in self.workloads):
            raise UserError(
                "serve.prompt_format",
                "'text' is for the random workload only: the other kinds build prompts from token ids",
                "use prompt_format = 'token-ids'",
            )
        for arg in self.serve.server_args:
            flag = arg.split("=", 1)[0]
            if flag in PARALLEL_SERVER_FLAGS:
                raise UserError(
                    "serve.server_args",
                    f"{flag} would change how many GPUs the server uses behind the harness's back",
                    f"set [engine] {PARALLEL_SERVER_FLAGS[flag]} instead",
                )

    def _check_precisions(self) -> None:
        if self.engine.precision != BF16:
            raise UserError(
                "engine.precision", "is set per arm of the precision axis", "list the arms in `precisions` instead"
            )
        if self.precisions != (BF16,) and "transformers" in self.engines:
            raise UserError(
                "precisions",
                "the transformers baseline runs unquantized only",
                "run the baseline in a suite of its own without precisions",
            )
        if len(self.precisions) > 1 and self.mode == "serve":
            raise UserError(
                "precisions",
                f"names {len(self.precisions)} arms, and serving mode measures one a run",
                "give one arm per serving run (a run directory each), or use offline mode",
            )
        if self.mode == "serve" and self.serve.endpoint and self.precisions != (BF16,):
            raise UserError(
                "precisions",
                "an existing endpoint serves in whatever precision it was started with",
                "leave precisions out: the endpoint's own settings are not the harness's to choose",
            )

    def check_runnable(self) -> None:
        """`check`, and what a run (not a dry run, which plans them) cannot measure: precision arms vLLM cannot
        quantize to online, for a model whose card names no checkpoint quantized to that format."""
        from bench.inputs.cards import load_card
        from bench.inputs.checkpoints import why_not_runnable

        self.check()
        for precision in self.precisions:
            if precision.runnable_reason() is None:
                continue
            for model in self.models:
                if reason := why_not_runnable(load_card(model), precision):
                    raise UserError(
                        "precisions",
                        reason,
                        f"name such a checkpoint in the card, leave {precision.name} out of precisions, or project "
                        "it (tokencost project --precision)",
                    )

    def pair_of(self, card_name: str, card_pair: str | None) -> str | None:
        return self.pairs.get(card_name, card_pair)


def _among(sizes: tuple[int, ...], chosen: tuple[int, ...] | None) -> tuple[int, ...]:
    """The sizes a workload is measured at: all, or those it chose (none, when it chose only others)."""
    return sizes if chosen is None else tuple(size for size in sizes if size in chosen)


# The embedded demo holds each point for 5 s, not the default 10: on a CPU the meter samples every 0.1 s, so an edge
# costs a 5 s window at most 2 %, and the demo's eight points are done 40 s sooner.
DEMO_MIN_WINDOW_S = 5.0
# The embedded demo also measures one realistic-workload point per model: a shared-prefix mix at batch 16
# (its prefix is one KV block of vLLM's CPU backend), beside the random floor at the same batch.
DEMO_EXTRA_WORKLOADS = (
    Workload(
        kind="shared-prefix",
        isl=256,
        osl=128,
        batch_sizes=(16,),
        shared_prefix=SharedPrefixSettings(prefixes=4, prefix_len=128),
    ),
)


# vLLM server flags that set the engine's parallelism (and so the GPUs metered and priced).
PARALLEL_SERVER_FLAGS = {
    "--tensor-parallel-size": "tensor_parallel_size",
    "-tp": "tensor_parallel_size",
    "--pipeline-parallel-size": "pipeline_parallel_size",
    "-pp": "pipeline_parallel_size",
    "--data-parallel-size": "data_parallel_size",
    "-dp": "data_parallel_size",
}


def load_suite(path: Path | None = None) -> Suite:
    """The suite in a TOML file; without one, the embedded CPU demo."""
    if path is None:
        return Suite(extra_workloads=DEMO_EXTRA_WORKLOADS, min_window_s=DEMO_MIN_WINDOW_S)
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError("--suite", f"{path} does not exist", "give the path of a suite TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError("--suite", f"{path} is not valid TOML ({e})", "fix the TOML") from None
    except OSError as e:
        raise UserError(
            "--suite", f"{path} cannot be read ({e.strerror or e})", "give the path of a suite TOML file"
        ) from None
    return parse(Suite, data, str(path))


# The suite's settings that the `run` command's flags set, each declared on its own field.
SUITE_OPTIONS = tuple(options(Suite))


def with_flags(suite: Suite, values: dict[str, Any]) -> Suite:
    """The suite with the values of the command line's flags (keyed by setting, as SUITE_OPTIONS has them);
    a value out of the setting's bounds is named by its flag, as the user typed it."""
    try:
        return with_settings(suite, values)
    except UserError as e:
        path = e.field.removeprefix("command line ")
        option = next((o for o in SUITE_OPTIONS if path == o.path or path.startswith(o.path + ".")), None)
        if option is None:
            raise
        # The flag as typed, and the suite setting that takes the same value (and has the same bounds).
        raise e.with_field(option.flag.name, f"{e.fix} (suite setting {option.path})") from None


def with_settings(suite: Suite, settings: dict[str, Any]) -> Suite:
    """The suite with some settings replaced, each keyed by its dotted path (e.g. "workload.isl"; None leaves a
    setting as it is). A new workload kind takes that kind's default isl unless workload.isl is given too."""
    data = suite.model_dump()
    kind = settings.get("workload.kind")
    if kind is not None and kind != data["workload"]["kind"] and settings.get("workload.isl") is None:
        del data["workload"]["isl"]
    for path, value in settings.items():
        if value is None:
            continue
        *tables, name = path.split(".")
        table = data
        for key in tables:
            table = table[key]
        table[name] = tuple(value) if isinstance(value, list) else value
    changed = parse(Suite, data, "command line")
    # An extra workload the main one now repeats (the demo's shared-prefix point, asked for by flags) goes.
    extras = tuple(w for w in changed.extra_workloads if w.key() != changed.workload.key())
    return changed.model_copy(update={"extra_workloads": extras})


def with_overrides(
    suite: Suite,
    models: Sequence[str] | None = None,
    batch_sizes: Sequence[int] | None = None,
    engines: Sequence[str] | None = None,
    mode: str | None = None,
    serve: dict[str, Any] | None = None,
    min_window_s: float | None = None,
    accelerators: Sequence[str] | None = None,
    kind_settings: dict[str, dict[str, Any]] | None = None,
    **workload: Any,
) -> Suite:
    """`with_settings`, by keyword: the workload's settings (and `kind`) as keywords, the serving settings and
    each kind's in dicts. An empty list or mode leaves the setting as it is."""
    settings: dict[str, Any] = {
        "models": models or None,
        "batch_sizes": batch_sizes or None,
        "engines": engines or None,
        "mode": mode or None,
        "min_window_s": min_window_s,
        "fleet.accelerators": accelerators or None,
    }
    settings |= {f"serve.{k}": v for k, v in (serve or {}).items()}
    settings |= {
        f"workload.{section}.{k}": v for section, values in (kind_settings or {}).items() for k, v in values.items()
    }
    settings |= {f"workload.{k}": v for k, v in workload.items()}
    return with_settings(suite, settings)
