"""vLLM offline engine: one LLM per model, every sweep point on the same engine.

The engine is built once with room for the largest batch of the sweep. Each
point then keeps exactly `batch_size` requests in flight through vLLM's own
request API (add_request / step), refilling as requests finish, the way
`vllm bench throughput` runs when batch size equals max_num_seqs.
"""

import os
import time
from collections.abc import Iterable
from typing import Any

from bench.engines.base import SAMPLING, GenerationResult, WindowHooks
from bench.environment import on_cpu_backend, vllm_version
from bench.errors import PointTimeout
from bench.inputs.cards import ModelCard
from bench.inputs.checkpoints import vllm_model_arguments
from bench.inputs.fit import engine_memory_arguments
from bench.inputs.requests import Request, as_request, implied_hits
from bench.inputs.suite import EngineSettings
from bench.run import prefix_cache
from bench.run.window import NoWindow


class VllmOfflineEngine:
    name = "vllm"
    mode = "offline"

    def __init__(self, card: ModelCard, max_batch_size: int, settings: EngineSettings):
        # vLLM 0.32 reads this once, when its engine client is first imported, and applies it only to the handshake
        # after the engine core's READY; the start itself (weights, compile, graph capture) is bounded by our own
        # watchdog (bench.engines.watchdog, around bench.offline._start_engine).
        os.environ.setdefault("VLLM_ENGINE_READY_TIMEOUT_S", str(int(settings.startup_timeout_s)))
        from vllm import LLM

        self.card = card
        self.max_batch_size = max_batch_size
        self.settings = settings
        # Any: each of vLLM's keywords takes a type of its own.
        self.engine_kwargs: dict[str, Any] = dict(
            # The card's folder, or the checkpoint it names for the arm's weights; quantization, KV cache dtype.
            **vllm_model_arguments(card, settings.precision),
            # Config-only cards have no tokenizer; prompts are token ids either way.
            skip_tokenizer_init=not card.has_tokenizer,
            dtype=settings.dtype,
            max_num_seqs=max_batch_size,
            max_model_len=settings.max_model_len,
            max_num_batched_tokens=settings.max_num_batched_tokens,
            **engine_memory_arguments(card, settings, max_batch_size),
            tensor_parallel_size=settings.tensor_parallel_size,
            pipeline_parallel_size=settings.pipeline_parallel_size,
            enforce_eager=settings.enforce_eager,
            seed=settings.seed,
            # On, as vLLM serves by default; a workload without reuse gives each request its own cache salt,
            # so nothing hits (bench.inputs.workload). Its stats are on so its hit counters can be read.
            enable_prefix_caching=True,
            disable_log_stats=False,
        )
        if settings.executor == "ray":  # workers on the GPUs of the Ray cluster's nodes (bench.fleet)
            self.engine_kwargs["distributed_executor_backend"] = "ray"
        start = time.perf_counter()
        self.llm = LLM(**self.engine_kwargs)
        self.startup_s = time.perf_counter() - start
        self.effective = effective_settings(self.llm.llm_engine.vllm_config)
        self._next_id = 0

    @property
    def kv_cache_blocks(self) -> tuple[int, int] | None:
        """(blocks, tokens a block) of the KV cache vLLM allocated, once it started."""
        blocks, size = self.effective.get("num_gpu_blocks"), self.effective.get("block_size")
        return (blocks, size) if blocks and size else None

    def worker_gpus(self) -> list[dict]:
        """Where each of vLLM's workers runs: its Ray node, GPU UUID and pid (bench.energy.engine_workers)."""
        from bench.energy.engine_workers import where_this_worker_runs

        return self.llm.collective_rpc(where_this_worker_runs)

    def prefix_cache_counters(self) -> tuple[int, int] | None:
        """(queries, hits) of vLLM's prefix cache so far, in prompt tokens; None where this vLLM does not say."""
        return prefix_cache.counters((m.name, getattr(m, "value", None)) for m in self.llm.get_metrics())

    def describe(self) -> dict:
        checkpoint = self.card.checkpoints.get(self.settings.precision.weights)
        kwargs = {k: v for k, v in self.engine_kwargs.items() if k != "model"}
        if checkpoint is not None:
            kwargs["checkpoint"] = checkpoint.hf_id
        return {
            "name": self.name,
            "mode": self.mode,
            "version": vllm_version(),
            "backend": "cpu" if on_cpu_backend() else "cuda",
            "startup_s": round(self.startup_s, 2),
            "sampling": SAMPLING.describe(),
            **kwargs,
            "effective": self.effective,
        }

    def generate(
        self,
        prompts: Iterable[Request | list[int]],
        osl: int,
        batch_size: int,
        window: WindowHooks | None = None,
        timeout_s: float | None = None,
        salt: str | None = None,
    ) -> GenerationResult:
        """Run the requests with at most `batch_size` in flight; each makes exactly its output length
        (`osl` for plain token-id prompts).

        Requests are taken one at a time as slots free up, so a supply that
        stops once enough time has passed (bench.inputs.workload.PromptSupply)
        sizes the point by time. A multi-turn request's next turn takes its
        slot as soon as it finishes. With `salt`, request i carries the cache
        salt "salt-i": no request can hit another's blocks in the prefix cache,
        and a second call with the same salt and requests hits its own.

        The steady-state window opens once `batch_size` requests are all
        decoding and closes when a finished request leaves a slot that nothing
        can take (the batch drains after); `window.begin()` and `window.end()`
        are called at those instants and the tokens generated between them are
        counted. Past `timeout_s` the requests in flight are aborted and
        PointTimeout raised.
        """
        from vllm import SamplingParams, TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        window = window or NoWindow()
        params_for: dict[int, SamplingParams] = {}

        def params(length: int) -> SamplingParams:
            if length not in params_for:
                params_for[length] = SamplingParams(
                    temperature=SAMPLING.temperature,
                    top_p=SAMPLING.top_p,
                    max_tokens=length,
                    min_tokens=length,
                    ignore_eos=SAMPLING.ignore_eos,
                    detokenize=False,
                    output_kind=RequestOutputKind.DELTA,  # new tokens each step, to count them inside the window
                )
            return params_for[length]

        engine = self.llm.llm_engine
        block_size = self.effective.get("block_size") or 1
        pending = iter(prompts)
        in_flight: dict[str, Request] = {}
        decoding: set[str] = set()
        finished = input_tokens = output_tokens = steady_tokens = implied = submitted = 0
        state = "filling"  # -> "steady" -> "draining"
        t_open = t_close = 0.0

        def submit(request: Request) -> None:
            nonlocal implied, submitted
            request_id = str(self._next_id)
            self._next_id += 1
            assert not isinstance(request.prompt, str), "the offline engine is given token ids"
            prompt = TokensPrompt(prompt_token_ids=request.prompt)
            if salt is not None:
                prompt["cache_salt"] = f"{salt}-{submitted}"
            else:
                implied += implied_hits(request, block_size)
            submitted += 1
            (rendered,) = engine.renderer.render_cmpl([prompt])
            engine.add_request(request_id, rendered, params(request.osl))
            in_flight[request_id] = request

        def submit_next() -> bool:
            item = next(pending, None)
            if item is None:
                return False
            submit(as_request(item, osl))
            return True

        start = time.perf_counter()
        queue_left = True
        while len(in_flight) < batch_size and (queue_left := submit_next()):
            pass
        while in_flight:
            if timeout_s is not None and time.perf_counter() - start > timeout_s:
                engine.abort_request(list(in_flight))
                raise PointTimeout(f"still running after {timeout_s:g} s ({finished} requests done)")
            step_tokens, done = 0, []
            for output in engine.step():
                # vLLM types step() for pooling models too; this engine only generates
                new = sum(len(o.token_ids) for o in output.outputs)  # type: ignore[union-attr,misc]
                step_tokens += new
                if new:
                    decoding.add(output.request_id)
                if output.finished:
                    done.append(output.request_id)
            output_tokens += step_tokens
            if state == "steady":
                steady_tokens += step_tokens
            idle_slot = False
            for request_id in done:
                request = in_flight.pop(request_id)
                input_tokens += len(request.prompt)
                decoding.discard(request_id)
                finished += 1
                if request.next_turn is not None:
                    submit(request.next_turn())  # the session goes on in the same slot
                elif queue_left:
                    queue_left = submit_next()
                    idle_slot = not queue_left
                else:
                    idle_slot = True
            if state == "steady" and idle_slot:
                window.end()
                t_close, state = time.perf_counter(), "draining"
            elif state == "filling" and queue_left and len(decoding) == batch_size:
                window.begin()
                t_open, state = time.perf_counter(), "steady"
        duration = time.perf_counter() - start
        if not t_close:
            steady_tokens = 0
        return GenerationResult(
            finished,
            input_tokens,
            output_tokens,
            duration,
            steady_tokens,
            t_close - t_open if t_close else 0.0,
            implied,
        )

    def close(self) -> None:
        # Ends vLLM's engine-core process now rather than at interpreter exit.
        engine = getattr(self.llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm


def effective_settings(vllm_config) -> dict:
    """The settings vLLM settled on, which its defaults choose per GPU and entry point (LLM vs server).

    Empty when this vLLM's config is laid out otherwise: the engine is up and the run goes on.
    """
    try:
        return _effective_settings(vllm_config)
    except (AttributeError, TypeError, ValueError):
        return {}


def _effective_settings(vllm_config) -> dict:
    cache, scheduler = vllm_config.cache_config, vllm_config.scheduler_config
    model = vllm_config.model_config
    compilation = vllm_config.compilation_config
    attention = getattr(vllm_config, "attention_config", None)
    sizes = compilation.cudagraph_capture_sizes or []
    return {
        "num_gpu_blocks": cache.num_gpu_blocks,
        "block_size": cache.block_size,
        "kv_cache_tokens": (cache.num_gpu_blocks or 0) * cache.block_size,
        # The precision vLLM ran: its quantization method (None: unquantized) and the KV cache's dtype.
        "quantization": str(getattr(model, "quantization", None)),
        "kv_cache_dtype": str(getattr(cache, "cache_dtype", None)),
        "model_dtype": str(getattr(model, "dtype", None)),
        "max_num_batched_tokens": scheduler.max_num_batched_tokens,
        "max_num_seqs": scheduler.max_num_seqs,
        "chunked_prefill": bool(getattr(scheduler, "enable_chunked_prefill", False)),
        "compilation_mode": str(getattr(compilation, "mode", None)),
        "cudagraph_mode": str(compilation.cudagraph_mode),
        "cudagraph_capture_sizes": len(sizes),
        "cudagraph_max_capture_size": max(sizes, default=None),
        "attention_backend_requested": str(getattr(attention, "backend", None) or "auto"),  # vLLM's log says which ran
        # On CUDA vLLM 0.32 runs Model Runner V2 and async scheduling by default; on the CPU build, V1 without
        # Triton (vllm/config/vllm.py, use_v2_model_runner and the async_scheduling defaults).
        "model_runner": "v2" if getattr(vllm_config, "use_v2_model_runner", False) else "v1",
        "async_scheduling": bool(getattr(scheduler, "async_scheduling", False)),
    }
