"""Workloads: the kind of requests a point sends, deterministic from a seed.

- random: fixed lengths, random token ids, every request with its own vLLM cache salt, so nothing is ever
  served from the prefix cache: the cost floor.
- shared-prefix: `prefixes` groups of requests sharing a `prefix_len`-token prefix, each with its own suffix.
- multi-turn: sessions whose every turn sends the whole conversation so far plus new user tokens.
- trace: a Mooncake-format JSONL trace replayed, its KV reuse reproduced from its hash ids (bench.inputs.trace).
- lengths: input and output lengths drawn from a distribution or a histogram (bench.inputs.lengths).
"""

import math
import time
from collections.abc import Callable, Iterator
from enum import IntEnum
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.errors import UserError
from bench.inputs.flags import Flag
from bench.inputs.lengths import LengthSettings, lengths_requests, mean_lengths
from bench.inputs.lengths import max_context as lengths_max_context
from bench.inputs.requests import (
    FIRST_ORDINARY_TOKEN_ID,
    Request,
    multi_turn_requests,
    random_requests,
    shared_prefix_requests,
)
from bench.inputs.trace import TraceSettings, load_trace, trace_requests, trace_stats

__all__ = ["FIRST_ORDINARY_TOKEN_ID", "Request", "Workload", "PromptStream", "PromptSupply"]

WARMUP_OSL = 8  # output tokens of a warm-up request: enough to compile and cache the batch shape


# Caps on a workload, far above any real one, so a typo (an extra digit, an exponent) is refused before
# an engine starts rather than after it has tried to allocate or generate it.
MAX_TOKENS = 10_000_000  # isl, osl, and isl + osl for a card that gives no context: more than any model's
MAX_REQUESTS_PER_SLOT = 100_000  # requests_per_batch (and the serving settings' requests per concurrency)

WorkloadKind = Literal["random", "shared-prefix", "multi-turn", "trace", "lengths"]
KINDS: tuple[str, ...] = get_args(WorkloadKind)
CACHE_AWARE = ("shared-prefix", "multi-turn", "trace")  # kinds whose structure lets the prefix cache serve input


class PromptStream(IntEnum):
    """Independent seeded prompt streams: warm-ups and probes never repeat a measured prompt."""

    MEASURED = 0
    WARMUP = 1
    PREFILL_PROBE = 2


Count = Annotated[int, Field(strict=True, ge=1)]


class SharedPrefixSettings(BaseModel):
    """Request i starts with prefix i mod `prefixes`, then a suffix of its own (isl - prefix_len tokens)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    prefixes: Annotated[
        Count,
        Field(le=MAX_REQUESTS_PER_SLOT),
        Flag("--prefixes", "shared-prefix: how many prefixes the requests share"),
    ] = 4
    # vLLM reuses whole KV blocks only: 128 tokens on its CPU backend, 16 on most GPUs.
    prefix_len: Annotated[
        Count,
        Field(le=MAX_TOKENS),
        Flag("--prefix-len", "shared-prefix: tokens of each shared prefix (the suffix is --isl minus this)"),
    ] = 384


class MultiTurnSettings(BaseModel):
    """Sessions of `turns` turns; each adds the previous reply (osl tokens) and `user_len` new user tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    turns: Annotated[int, Field(strict=True, ge=2, le=1_000), Flag("--turns", "multi-turn: turns per session")] = 4
    user_len: Annotated[Count, Field(le=MAX_TOKENS)] = 64
    think_time_s: Annotated[float, Field(strict=True, ge=0, le=3600)] = (
        0.0  # serving only; offline sends the next turn at once
    )


# What isl means for a kind when a suite leaves it out: shared-prefix needs room for a prefix of whole blocks.
DEFAULT_ISL = {"shared-prefix": 512, "multi-turn": 256}


class Workload(BaseModel):
    """What one sweep point asks of the engine: its kind, lengths and seed.

    Every request generates exactly its output length (end-of-sequence is
    ignored), so token counts are known in advance and random weights cost the
    same compute as trained ones. random and shared-prefix requests have
    exactly `isl` prompt tokens; multi-turn starts at `isl`; trace and lengths
    take their lengths from the trace or the distribution.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Annotated[
        WorkloadKind,
        Flag(
            "--workload",
            "what the requests share: random (the floor: nothing cached), shared-prefix, multi-turn, "
            "trace (a Mooncake JSONL, --trace), lengths (a length distribution; see docs/workloads.md)",
        ),
    ] = "random"
    isl: Annotated[
        int,
        Field(strict=True, gt=0, le=MAX_TOKENS),
        Flag("--isl", "input (prompt) tokens per request; with the output tokens, at most the model's context"),
    ] = 128
    osl: Annotated[int, Field(strict=True, gt=0, le=MAX_TOKENS), Flag("--osl", "output tokens per request")] = 128
    requests_per_batch: Annotated[
        int,
        Field(strict=True, gt=0, le=MAX_REQUESTS_PER_SLOT),
        Flag("--requests-per-batch", "fewest requests per point = batch size x this (points also last --min-window-s)"),
    ] = 4
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    shared_prefix: SharedPrefixSettings = SharedPrefixSettings()
    multi_turn: MultiTurnSettings = MultiTurnSettings()
    trace: TraceSettings = TraceSettings()
    lengths: LengthSettings = LengthSettings()
    # An extra workload of a suite may be measured at only some of its batch sizes (serving: concurrencies).
    batch_sizes: tuple[Annotated[int, Field(strict=True, gt=0)], ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data):
        if isinstance(data, dict) and "isl" not in data and data.get("kind") in DEFAULT_ISL:
            data = data | {"isl": DEFAULT_ISL[data["kind"]]}
        return data

    @model_validator(mode="after")
    def _coherent(self) -> "Workload":
        if self.kind == "shared-prefix" and self.shared_prefix.prefix_len >= self.isl:
            # A UserError, not a ValueError: pydantic would name the whole workload rather than the setting.
            raise UserError(
                "workload.shared_prefix.prefix_len",
                f"is {self.shared_prefix.prefix_len}, which leaves no suffix in isl {self.isl}",
                "give a prefix_len below isl (the suffix is isl - prefix_len)",
            )
        return self

    def check_inputs(self) -> None:
        """Read the files the workload names (a trace, a histogram), so a bad one is refused before anything starts."""
        if self.kind == "trace":
            self.trace_rows()
        elif self.kind == "lengths":
            lengths_max_context(self.lengths)

    @property
    def cache_aware(self) -> bool:
        """Whether the structure lets vLLM's prefix cache serve input (else every request is salted apart)."""
        return self.kind in CACHE_AWARE

    @property
    def label(self) -> str:
        """The kind and its parameters in a few words, for tables and logs."""
        if self.kind == "shared-prefix":
            prefix = self.shared_prefix
            return f"shared-prefix {prefix.prefixes}x{prefix.prefix_len}+{self.isl - prefix.prefix_len}/{self.osl}"
        if self.kind == "multi-turn":
            turns = self.multi_turn
            return f"multi-turn {turns.turns} turns {self.isl}+{turns.user_len}/{self.osl}"
        if self.kind == "trace":
            trace = self.trace
            name = Path(trace.file).stem if trace.file else "agentic-small"
            return " ".join(
                [
                    f"trace {name}",
                    *([f"x{trace.time_scale:g}"] if trace.time_scale != 1 else []),
                    *([f"first {trace.max_requests}"] if trace.max_requests else []),
                ]
            )
        if self.kind == "lengths":
            lengths = self.lengths
            if lengths.distribution == "histogram":
                return f"lengths {Path(lengths.histogram_file).stem}"
            return f"lengths lognormal {lengths.input_mean:g}/{lengths.output_mean:g}"
        return f"random {self.isl}/{self.osl}"

    def key(self) -> str:
        """The workload's part of a point key: random keeps the historical isl/osl form (resumable runs)."""
        if self.kind == "random":
            return f"isl{self.isl}/osl{self.osl}"
        return "-".join(self.label.replace("/", " ").replace("+", " ").split())

    def params(self) -> dict | None:
        """The kind's own settings, as records keep them."""
        table = {
            "shared-prefix": "shared_prefix",
            "multi-turn": "multi_turn",
            "trace": "trace",
            "lengths": "lengths",
        }.get(self.kind)
        return getattr(self, table).model_dump(mode="json") if table else None

    def num_requests(self, batch_size: int) -> int:
        return batch_size * self.requests_per_batch

    def min_first_requests(self, batch_size: int, requests: int | None = None) -> int:
        """The fewest requests a point of `batch_size` slots takes from its supply (`requests`, by default
        requests_per_batch rounds); for multi-turn, sessions of several turns each, one per slot at least."""
        requests = self.num_requests(batch_size) if requests is None else requests
        if self.kind == "multi-turn":
            return max(batch_size, math.ceil(requests / self.multi_turn.turns))
        return requests

    def max_context(self) -> int:
        """The longest prompt plus output any request of the workload has."""
        if self.kind == "multi-turn":
            turns = self.multi_turn
            return self.isl + (turns.turns - 1) * (self.osl + turns.user_len) + self.osl
        if self.kind == "trace":
            return trace_stats(self.trace_rows(), self.trace.block_size)["max_context"]
        if self.kind == "lengths":
            return lengths_max_context(self.lengths)
        return self.isl + self.osl

    def mean_lengths(self) -> tuple[float, float]:
        """Expected mean prompt and output lengths of a request (a point's records hold the measured ones)."""
        if self.kind == "multi-turn":
            turns = self.multi_turn
            return self.isl + (turns.turns - 1) / 2 * (self.osl + turns.user_len), float(self.osl)
        if self.kind == "trace":
            stats = trace_stats(self.trace_rows(), self.trace.block_size)
            return stats["mean_isl"], stats["mean_osl"]
        if self.kind == "lengths":
            return mean_lengths(self.lengths)
        return float(self.isl), float(self.osl)

    def check_fits(self, max_context: int, model_name: str) -> None:
        max_context = max_context or MAX_TOKENS  # a card that gives no context still has the cap
        longest = self.max_context()
        if longest <= max_context:
            return
        if self.kind == "random":
            raise UserError(
                "isl+osl",
                f"{self.isl}+{self.osl} exceeds {model_name}'s context of {max_context} tokens",
                f"lower --isl/--osl to at most {max_context} tokens together",
            )
        fix = {
            "multi-turn": "fewer workload.multi_turn.turns, or a shorter isl, osl or user_len",
            "trace": "a trace of shorter requests, or a model with a longer context",
            "lengths": "lower workload.lengths.input_max and output_max",
        }.get(self.kind, "lower --isl/--osl")
        raise UserError(
            f"workload ({self.label})",
            f"its longest request needs {longest} tokens, beyond {model_name}'s context of {max_context}",
            f"use {fix}",
        )

    def trace_rows(self):
        return _trace_rows(self.trace)

    def requests(
        self, vocab_size: int, salt: int = 0, stream: PromptStream = PromptStream.MEASURED
    ) -> Iterator[Request]:
        """The workload's requests (multi-turn: first turns), the same for a given seed, salt and stream.

        A point passes its own salt, so no two points (nor a warm-up or probe, on their own streams) send
        the same prompts, and one point's blocks never serve another's from the prefix cache."""
        rng = np.random.default_rng([self.seed, int(stream), salt])
        if self.kind == "shared-prefix":
            return shared_prefix_requests(
                self.shared_prefix.prefixes, self.shared_prefix.prefix_len, self.isl, self.osl, vocab_size, rng
            )
        if self.kind == "multi-turn":
            turns = self.multi_turn
            return multi_turn_requests(
                turns.turns, self.isl, turns.user_len, self.osl, turns.think_time_s, vocab_size, rng
            )
        if self.kind == "trace":
            return iter(
                trace_requests(self.trace_rows(), self.trace.block_size, vocab_size, self.seed, salt * 4 + int(stream))
            )
        if self.kind == "lengths":
            return lengths_requests(self.lengths, vocab_size, rng)
        return random_requests(self.isl, self.osl, vocab_size, rng)

    def warmup_requests(self, count: int, vocab_size: int, salt: int = 0) -> list[Request]:
        """`count` short requests like the workload's own (same prompt shapes), on the warm-up stream."""
        requests = islice(self.requests(vocab_size, salt, PromptStream.WARMUP), count)
        return [Request(r.prompt, WARMUP_OSL) for r in requests]

    def prompts(
        self, num_requests: int, vocab_size: int, stream: PromptStream = PromptStream.MEASURED
    ) -> list[list[int]]:
        """`num_requests` prompts of `isl` random token ids, the same for a given seed and stream.

        Other streams give unrelated prompts: warm-ups and probes use their own,
        so vLLM's prefix cache never serves a measured prompt from an earlier run.
        """
        rng = np.random.default_rng([self.seed, int(stream)])
        ids = rng.integers(FIRST_ORDINARY_TOKEN_ID, vocab_size, size=(num_requests, self.isl))
        return ids.tolist()

    def to_record(self) -> dict:
        """The record's workload: random as before; other kinds with their label and parameters."""
        record = self.model_dump(include={"isl", "osl", "requests_per_batch", "seed"})
        if self.kind != "random":
            record |= {"kind": self.kind, "label": self.label, "params": self.params()}
        return record


@lru_cache(maxsize=8)
def _trace_rows(settings: TraceSettings):
    """A trace read and checked once per process, however many points and labels ask for it."""
    return load_trace(settings)


class PromptSupply:
    """The requests of one measured point, sized by time as well as count.

    It hands out at least `minimum` requests, then keeps going while less than
    `min_seconds` have passed since the first was taken; it only stops after a
    whole round of `round_size` (the batch size), so every batch is full. The
    requests are the workload's seeded stream, so a point is reproducible up to
    how many of them it used; a finite stream (a trace) ends the supply early.
    """

    def __init__(
        self,
        workload: Workload,
        vocab_size: int,
        round_size: int,
        minimum: int,
        min_seconds: float,
        stream: PromptStream = PromptStream.MEASURED,
        clock: Callable[[], float] | None = None,
        salt: int = 0,
    ):
        self.round_size, self.minimum, self.min_seconds = round_size, minimum, min_seconds
        self.clock = clock or time.perf_counter
        self.source = workload.requests(vocab_size, salt, stream)
        self.taken = 0
        self.started: float | None = None
        self.in_round = 0

    def __iter__(self):
        return self

    def __next__(self) -> Request:
        if self.in_round == 0:
            if self.started is None:
                self.started = self.clock()
            elif self.taken >= self.minimum and self.clock() - self.started >= self.min_seconds:
                raise StopIteration
            self.in_round = self.round_size
        request = next(self.source)  # StopIteration at the end of a finite stream ends the supply too
        self.in_round -= 1
        self.taken += 1
        return request
