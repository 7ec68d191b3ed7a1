"""What every offline engine is: the Engine protocol, its result, and the sampling every request uses."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bench.inputs.cards import ModelCard
from bench.inputs.suite import EngineSettings


@dataclass(frozen=True)
class Sampling:
    """The sampling settings of every engine, server and endpoint request: exactly the requested tokens."""

    temperature: float = 1.0
    top_p: float = 1.0
    ignore_eos: bool = True  # every request generates exactly its output length

    def describe(self) -> str:
        return f"temperature {self.temperature}, top_p {self.top_p}" + (", ignore_eos" if self.ignore_eos else "")


SAMPLING = Sampling()


@dataclass(frozen=True)
class GenerationResult:
    num_requests: int
    input_tokens: int
    output_tokens: int
    duration_s: float
    steady_output_tokens: int = 0  # generated inside the steady-state window
    steady_duration_s: float = 0.0  # 0 when the point never reached a full batch with work queued
    implied_hit_tokens: int = 0  # prompt tokens the requests' structure lets a prefix cache serve (unsalted only)


class WindowHooks(Protocol):
    def begin(self) -> None: ...

    def end(self) -> None: ...


class Engine(Protocol):
    """An offline engine: built once per model with room for the sweep's largest batch.

    `generate` runs the prompts with at most `batch_size` in flight, each
    making exactly `osl` tokens, taking each prompt only when it can start
    (so a time-sized supply decides how many run); it calls `window.begin()` when its steady
    state starts (the batch full, work still queued) and `window.end()` when
    it stops, and raises bench.errors.PointTimeout past `timeout_s`.
    """

    name: str
    mode: str

    def __init__(self, card: ModelCard, max_batch_size: int, settings: EngineSettings) -> None: ...

    def describe(self) -> dict: ...

    def generate(
        self,
        prompts: Iterable,
        osl: int,
        batch_size: int,
        window: WindowHooks | None = None,
        timeout_s: float | None = None,
        salt: str | None = None,
    ) -> GenerationResult: ...

    def close(self) -> None: ...
