"""Service-level tiers: the latency a serving point must keep to count as serving its users.

A tier limits TTFT and TPOT at one percentile of a point's requests, and may
ask for a least interactivity (tokens per second per user, 1000 / TPOT at that
percentile, InferenceX's x axis). The shipped tiers are in `tiers.toml`
beside this file; a suite adds its own under `[tiers.NAME]`, or redefines one.
"""

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.validation import parse

SHIPPED_TIERS = Path(__file__).with_name("tiers.toml")
MAX_MS = 3_600_000.0  # an hour


Limit = Annotated[float, Field(strict=True, gt=0, le=MAX_MS)] | None


class Tier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    description: str = ""
    percentile: Literal[50, 90, 99] = 90
    ttft_ms: Limit = None  # TTFT at the percentile at most this
    tpot_ms: Limit = None  # TPOT at the percentile at most this
    min_tok_s_user: Annotated[float, Field(strict=True, gt=0, le=1_000_000)] | None = (
        None  # 1000 / TPOT at the percentile
    )
    source: str | None = None  # where the tier's figures come from

    @model_validator(mode="after")
    def _limits_something(self) -> "Tier":
        if self.ttft_ms is None and self.tpot_ms is None and self.min_tok_s_user is None:
            raise ValueError("a tier needs ttft_ms, tpot_ms or min_tok_s_user")
        return self

    @property
    def tpot_limit_ms(self) -> float | None:
        """The TPOT the tier allows, from its TPOT limit and its interactivity floor, whichever is tighter."""
        limits = [
            x for x in (self.tpot_ms, 1000.0 / self.min_tok_s_user if self.min_tok_s_user else None) if x is not None
        ]
        return min(limits) if limits else None

    def describe(self) -> str:
        parts = [
            f"p{self.percentile} TTFT <= {self.ttft_ms:g} ms" if self.ttft_ms else "",
            f"p{self.percentile} TPOT <= {self.tpot_ms:g} ms" if self.tpot_ms else "",
            f">= {self.min_tok_s_user:g} tok/s/user at p{self.percentile}" if self.min_tok_s_user else "",
        ]
        return ", ".join(p for p in parts if p)

    def limits(self) -> dict:
        return self.model_dump(include={"percentile", "ttft_ms", "tpot_ms", "min_tok_s_user"})


@cache
def shipped_tiers() -> dict[str, Tier]:
    data = tomllib.loads(SHIPPED_TIERS.read_text())
    return {name: parse(Tier, table, f"{SHIPPED_TIERS.name} [{name}]") for name, table in data.items()}


def tiers_of(own: dict[str, Tier]) -> dict[str, Tier]:
    """The shipped tiers with a suite's own added (a suite's tier of a shipped name replaces it)."""
    return shipped_tiers() | dict(own)
