"""Hugging Face transformers engine: static batches through `generate`, the naive baseline.

It shows what vLLM's continuous batching and paged attention buy on the same
hardware, and it runs where vLLM is not installed (torch and transformers
only). Each point runs its prompts in static batches of `batch_size`; every
request has exactly ISL prompt tokens and generates exactly OSL tokens.
"""

import time
from collections.abc import Iterable
from importlib import metadata
from itertools import islice

from bench.engines.base import SAMPLING, GenerationResult, WindowHooks
from bench.errors import PointTimeout
from bench.inputs.cards import ModelCard
from bench.inputs.requests import as_request
from bench.inputs.suite import EngineSettings
from bench.run.window import NoWindow

DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "float32": "float32", "auto": "bfloat16"}


class TransformersEngine:
    name = "transformers"
    mode = "static-batch"

    def __init__(self, card: ModelCard, max_batch_size: int, settings: EngineSettings):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        self.torch = torch
        self.card = card
        self.settings = settings
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = getattr(torch, DTYPES[settings.dtype])
        start = time.perf_counter()
        torch.manual_seed(settings.seed)
        if card.has_weights:
            # transformers types the model's `to` through a decorator that loses torch's signature
            self.model = AutoModelForCausalLM.from_pretrained(card.path, dtype=dtype).to(self.device)  # type: ignore[arg-type]
        else:
            # Random weights, created on the device itself: the same compute per token as trained ones.
            with torch.device(self.device):
                self.model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(card.path), dtype=dtype)
        self.model.eval()
        self.startup_s = time.perf_counter() - start

    def describe(self) -> dict:
        return {
            "name": self.name,
            "mode": self.mode,
            "version": metadata.version("transformers"),
            "backend": self.device,
            "startup_s": round(self.startup_s, 2),
            "sampling": f"{SAMPLING.describe()} (min_new_tokens = max_new_tokens)",
            "load_format": "checkpoint" if self.card.has_weights else "dummy",
            "dtype": self.settings.dtype,
            "max_num_seqs": None,
            "seed": self.settings.seed,
            "steady_state": "full static batches, prefill included",
        }

    def generate(
        self,
        prompts: Iterable,
        osl: int,
        batch_size: int,
        window: WindowHooks | None = None,
        timeout_s: float | None = None,
        salt: str | None = None,
    ) -> GenerationResult:
        """Static batches of fixed-length prompts (the random workload only); no prefix cache, so `salt` is moot."""
        torch = self.torch
        window = window or NoWindow()
        supply = (as_request(item, osl).prompt for item in prompts)
        batch = list(islice(supply, batch_size))  # the next batch is taken only after one ran (time-sized supplies)
        requests = input_tokens = output_tokens = steady_tokens = 0
        t_open = t_close = 0.0
        start = time.perf_counter()
        while batch:
            if len(batch) == batch_size and not t_open:
                window.begin()
                t_open = time.perf_counter()
            ids = torch.tensor(batch, device=self.device)
            with torch.inference_mode():
                out = self.model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=osl,
                    min_new_tokens=osl,
                    do_sample=True,
                    temperature=SAMPLING.temperature,
                    top_p=SAMPLING.top_p,
                    top_k=0,
                    pad_token_id=0,
                )
            if self.device == "cuda":
                torch.cuda.synchronize()  # window edges must see the GPU's work finished
            generated = (out.shape[1] - ids.shape[1]) * len(batch)
            requests += len(batch)
            input_tokens += ids.numel()
            output_tokens += generated
            if t_open and not t_close:
                steady_tokens += generated
            batch = list(islice(supply, batch_size))
            if t_open and not t_close and len(batch) < batch_size:
                window.end()
                t_close = time.perf_counter()
            if timeout_s is not None and time.perf_counter() - start > timeout_s and batch:
                raise PointTimeout(f"still running after {timeout_s:g} s ({requests} requests done)")
        duration = time.perf_counter() - start
        return GenerationResult(
            requests, input_tokens, output_tokens, duration, steady_tokens, t_close - t_open if t_close else 0.0
        )

    def close(self) -> None:
        del self.model
        if self.device == "cuda":
            self.torch.cuda.empty_cache()
