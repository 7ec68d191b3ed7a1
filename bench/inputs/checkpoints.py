"""Pre-quantized checkpoints a model card names, one per weight format vLLM cannot quantize to online.

vLLM quantizes BF16 weights to FP8 as it loads them, but has no online path to FP4 (NVFP4) or to the int4
weight-only formats (AWQ, GPTQ): those are read from a checkpoint quantized that way. A card names such
checkpoints in its card.toml, one table per format:

    [checkpoints.fp4]
    hf_id = "nvidia/Llama-3.1-8B-Instruct-FP4"
    source = "its model page: NVFP4 of Llama-3.1-8B-Instruct by NVIDIA ModelOpt"
    # quantization = "modelopt_fp4"   # vLLM's method; left out, vLLM reads it from the checkpoint's config

A checkpoint is loaded the way the card itself is: real weights where the card folder has them, otherwise
vLLM's dummy weights in the checkpoint's quantized layout (no weights are downloaded), so the arms of one
card compare like for like.
"""

from pathlib import Path
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import UserError
from bench.inputs.precision import VLLM_QUANTIZATION, Precision, WeightFormat

# The formats a checkpoint may be named for: those vLLM cannot quantize to online.
CHECKPOINT_FORMATS = tuple(f for f in get_args(WeightFormat) if f not in VLLM_QUANTIZATION)


class Checkpoint(BaseModel):
    """A checkpoint of the card's architecture with its weights quantized to one format."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    hf_id: str
    source: str  # where it is described, and what it was quantized from
    quantization: str | None = None  # vLLM's method name; None: read from the checkpoint's config


class CardWithCheckpoints(Protocol):
    """What these functions read of a model card (bench.inputs.cards.ModelCard, which imports this module)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def checkpoints(self) -> dict[str, Checkpoint]: ...
    @property
    def has_weights(self) -> bool: ...


def parse(meta: dict[str, Any], card_name: str) -> dict[str, Checkpoint]:
    """The checkpoints of a card.toml's `[checkpoints.FORMAT]` tables, or a one-line refusal naming the table."""
    tables = meta.get("checkpoints", {})
    field = f"{card_name}/card.toml checkpoints"
    if not isinstance(tables, dict):
        raise UserError(field, f"is {tables!r}", "give one [checkpoints.FORMAT] table per format")
    checkpoints = {}
    for weights, table in tables.items():
        if weights not in CHECKPOINT_FORMATS:
            raise UserError(
                f"{field}.{weights}",
                "names no format that needs a checkpoint",
                f"use one of {', '.join(CHECKPOINT_FORMATS)} (vLLM quantizes to the others itself)",
            )
        try:
            checkpoints[weights] = Checkpoint.model_validate(table)
        except ValidationError as e:
            error = e.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            raise UserError(
                f"{field}.{weights}{'.' + key if key else ''}",
                error["msg"].lower(),
                "give hf_id and source as strings (quantization optional)",
            ) from None
        if not checkpoints[weights].hf_id or "/" not in checkpoints[weights].hf_id:
            raise UserError(f"{field}.{weights}.hf_id", "is not a Hugging Face id", "give it as org/name")
    return checkpoints


def vllm_model_arguments(card: CardWithCheckpoints, precision: Precision) -> dict[str, str | None]:
    """vLLM's model, load_format, quantization and kv_cache_dtype for `card` in `precision`: the card's own
    folder (quantized online where the format asks for it), or the checkpoint the card names for the format."""
    arguments = {
        "model": str(card.path),
        "load_format": "auto" if card.has_weights else "dummy",
        **precision.vllm_arguments(),
    }
    if (checkpoint := card.checkpoints.get(precision.weights)) is not None:
        arguments |= {"model": checkpoint.hf_id, "quantization": checkpoint.quantization}
    return arguments


def why_not_runnable(card: CardWithCheckpoints, precision: Precision) -> str | None:
    """Why `tokencost run` cannot measure `card` in `precision`, or None."""
    if precision.weights in card.checkpoints:
        return None
    reason = precision.runnable_reason()
    return reason and f"{reason}: {card.name}'s card.toml has no [checkpoints.{precision.weights}]"
