"""Workloads: fixed input/output lengths and seeded random prompt token ids."""

import time
from collections.abc import Callable
from enum import IntEnum
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import UserError

# Ids below this are left out of prompts: tiny vocabularies keep their special
# tokens (pad, bos, eos) there.
FIRST_ORDINARY_TOKEN_ID = 4
WARMUP_OSL = 8  # output tokens of a warm-up request: enough to compile and cache the batch shape


# Caps on a workload, far above any real one, so a typo (an extra digit, an exponent) is refused before
# an engine starts rather than after it has tried to allocate or generate it.
MAX_TOKENS = 10_000_000  # isl, osl, and isl + osl for a card that gives no context: more than any model's
MAX_REQUESTS_PER_SLOT = 100_000  # requests_per_batch (and the serving settings' requests per concurrency)


class PromptStream(IntEnum):
    """Independent seeded prompt streams: warm-ups and probes never repeat a measured prompt."""

    MEASURED = 0
    WARMUP = 1
    PREFILL_PROBE = 2


class Workload(BaseModel):
    """What one sweep point asks of the engine.

    Every request has exactly `isl` prompt tokens and generates exactly `osl`
    tokens (end-of-sequence is ignored), so token counts are known in advance
    and random weights cost the same compute as trained ones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    isl: Annotated[int, Field(strict=True, gt=0, le=MAX_TOKENS)] = 128
    osl: Annotated[int, Field(strict=True, gt=0, le=MAX_TOKENS)] = 128
    requests_per_batch: Annotated[int, Field(strict=True, gt=0, le=MAX_REQUESTS_PER_SLOT)] = 4  # x batch size
    seed: Annotated[int, Field(strict=True, ge=0)] = 0

    def num_requests(self, batch_size: int) -> int:
        return batch_size * self.requests_per_batch

    def check_fits(self, max_context: int, model_name: str) -> None:
        max_context = max_context or MAX_TOKENS  # a card that gives no context still has the cap
        if self.isl + self.osl > max_context:
            raise UserError(
                "isl+osl",
                f"{self.isl}+{self.osl} exceeds {model_name}'s context of {max_context} tokens",
                f"lower --isl/--osl to at most {max_context} tokens together",
            )

    def prompts(self, num_requests: int, vocab_size: int, stream: PromptStream = PromptStream.MEASURED) -> list[list[int]]:
        """`num_requests` prompts of `isl` random token ids, the same for a given seed and stream.

        Other streams give unrelated prompts: warm-ups and probes use their own,
        so vLLM's prefix cache never serves a measured prompt from an earlier run.
        """
        rng = np.random.default_rng([self.seed, int(stream)])
        ids = rng.integers(FIRST_ORDINARY_TOKEN_ID, vocab_size, size=(num_requests, self.isl))
        return ids.tolist()

    def to_record(self) -> dict:
        return self.model_dump()


class PromptSupply:
    """The prompts of one measured point, sized by time as well as count.

    It hands out at least `minimum` prompts, then keeps going while less than
    `min_seconds` have passed since the first was taken; it only stops after a
    whole round of `round_size` (the batch size), so every batch is full. The
    prompts are the workload's seeded stream, so a point is reproducible up to
    how many of them it used.
    """

    def __init__(self, workload: Workload, vocab_size: int, round_size: int, minimum: int, min_seconds: float,
                 stream: PromptStream = PromptStream.MEASURED, clock: Callable[[], float] | None = None):
        self.workload, self.vocab_size, self.round_size = workload, vocab_size, round_size
        self.minimum, self.min_seconds = minimum, min_seconds
        self.clock = clock or time.perf_counter
        self.rng = np.random.default_rng([workload.seed, int(stream)])
        self.taken = 0
        self.started: float | None = None
        self._round: list[list[int]] = []

    def __iter__(self):
        return self

    def __next__(self) -> list[int]:
        if not self._round:
            if self.started is None:
                self.started = self.clock()
            elif self.taken >= self.minimum and self.clock() - self.started >= self.min_seconds:
                raise StopIteration
            ids = self.rng.integers(FIRST_ORDINARY_TOKEN_ID, self.vocab_size, size=(self.round_size, self.workload.isl))
            self._round = ids.tolist()[::-1]  # popped from the end, so handed out in order
        self.taken += 1
        return self._round.pop()
