"""Precision: the format of a model's weights and of its KV cache, one arm of a suite's precision axis.

Weights:
- bf16: the checkpoint's own, unquantized, in the engine's dtype (bfloat16 unless [engine] dtype says otherwise);
- fp8: vLLM's online FP8 quantization (`quantization="fp8"`): every linear layer's weights in FP8 E4M3 with
  one scale a tensor, the embeddings and the output layer kept in the engine's dtype. On a GPU with FP8
  tensor cores (Hopper, Ada, Blackwell, MI300) the matmuls run in FP8; on an A100 vLLM runs FP8 weights
  weight-only through its Marlin kernels, dequantized into BF16 matmuls;
- fp4 (NVFP4: 4 bits a weight and an FP8 scale every 16) and int4 (weight-only, GPTQ/AWQ through Marlin,
  a 16-bit scale every 128): vLLM has no online quantization to them, so they run from a checkpoint
  quantized that way, which the model card names (bench.inputs.checkpoints); a run refuses them for a card
  that names none, and they are modelled (fit, roofline, projection) either way.

KV cache: bf16 (vLLM's "auto": the model's dtype) or fp8 (`kv_cache_dtype="fp8"`, E4M3; without
calibrated scales vLLM uses a scale of 1).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

WeightFormat = Literal["bf16", "fp8", "fp4", "int4"]
KvFormat = Literal["bf16", "fp8"]

# Bytes a quantized weight takes, its scales included (the unquantized format's are the engine dtype's).
QUANTIZED_WEIGHT_BYTES = {"fp8": 1.0, "fp4": 0.5 + 1 / 16, "int4": 0.5 + 2 / 128}
KV_BYTES = {"fp8": 1}  # bf16: the engine dtype's
# vLLM's online quantization per weight format; the others need a pre-quantized checkpoint.
VLLM_QUANTIZATION = {"bf16": None, "fp8": "fp8"}
VLLM_KV_CACHE_DTYPE = {"bf16": "auto", "fp8": "fp8"}
WEIGHT_ONLY_FORMATS = frozenset({"int4"})  # never multiplied in their own format on any GPU
# An unquantized format as records name it, by the engine's dtype.
DTYPE_FORMAT = {"bfloat16": "bf16", "auto": "bf16", "float16": "fp16", "float32": "fp32"}


class Precision(BaseModel):
    """One arm of the precision axis: the weights' format and the KV cache's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: WeightFormat = "bf16"
    kv_cache: KvFormat = "bf16"

    @property
    def name(self) -> str:
        """A short name for point keys and tables: 'bf16', 'fp8', 'fp8-kv-fp8', 'bf16-kv-fp8'."""
        return self.weights + ("" if self.kv_cache == "bf16" else f"-kv-{self.kv_cache}")

    @property
    def is_default(self) -> bool:
        return self.weights == "bf16" and self.kv_cache == "bf16"

    def describe(self) -> str:
        return f"{self.weights.upper()} weights, {self.kv_cache.upper()} KV cache"

    def weight_bytes(self, dtype_bytes: float) -> float:
        """Bytes of one quantized-layer weight; `dtype_bytes` those of the engine's dtype."""
        return QUANTIZED_WEIGHT_BYTES.get(self.weights, dtype_bytes)

    def kv_bytes(self, dtype_bytes: float) -> float:
        """Bytes of one KV cache element."""
        return KV_BYTES.get(self.kv_cache, dtype_bytes)

    def vllm_arguments(self) -> dict[str, str | None]:
        """vLLM's `quantization` and `kv_cache_dtype` for this arm (a format vLLM cannot quantize to: refused
        by `runnable_reason` before any engine starts)."""
        return {
            "quantization": VLLM_QUANTIZATION.get(self.weights),
            "kv_cache_dtype": VLLM_KV_CACHE_DTYPE[self.kv_cache],
        }

    def runnable_reason(self) -> str | None:
        """Why `tokencost run` cannot measure this arm from a card's own weights, or None (a card may name a
        checkpoint for it: bench.inputs.checkpoints.why_not_runnable)."""
        if self.weights not in VLLM_QUANTIZATION:
            return (
                f"{self.weights} weights need a checkpoint quantized to {self.weights}, which vLLM reads from the "
                "checkpoint's config (it has no online quantization to it)"
            )
        return None

    def to_record(self, dtype: str = "bfloat16") -> dict[str, str]:
        """The record's precision: an unquantized format named by the engine's dtype (fp16 for float16)."""
        unquantized = DTYPE_FORMAT[dtype]
        return {
            "weights": unquantized if self.weights == "bf16" else self.weights,
            "kv_cache": unquantized if self.kv_cache == "bf16" else self.kv_cache,
        }

    def key_suffix(self) -> str:
        """What a point key's engine segment adds for this arm: nothing for bf16, so older keys stay."""
        return "" if self.is_default else f"-{self.name}"


BF16 = Precision()


def from_record(weights: str, kv_cache: str) -> Precision | None:
    """The arm a record's precision names, an unquantized run (bf16, fp16, fp32) being the bf16 arm in its dtype;
    None for a format this tokencost does not know."""
    unquantized = set(DTYPE_FORMAT.values())
    try:
        return Precision(
            weights="bf16" if weights in unquantized else weights,  # type: ignore[arg-type]
            kv_cache="bf16" if kv_cache in unquantized else kv_cache,  # type: ignore[arg-type]
        )
    except ValueError:
        return None


def record_name(weights: str, kv_cache: str) -> str:
    """A record's precision in a few letters, as Precision.name: 'bf16', 'fp8', 'fp8-kv-fp8', 'fp16'."""
    return weights + ("" if kv_cache in DTYPE_FORMAT.values() else f"-kv-{kv_cache}")


def from_name(name: str) -> Precision | None:
    """The arm a `record_name` (or Precision.name) names; None for one this tokencost does not know."""
    weights, _, kv_cache = name.partition("-kv-")
    return from_record(weights, kv_cache or "bf16")
