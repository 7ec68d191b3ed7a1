"""What a GPU does with a precision arm: multiply in its format, run it weight-only, or not run it at all.

A GPU multiplies in a format when the catalog gives its tensor-core peak in that format (fp8_tflops,
fp4_tflops; tokencost/data/hardware.toml). FP8 weights on a GPU without FP8 tensor cores (A100, A10G)
run weight-only: vLLM's Marlin kernels read the FP8 weights and multiply in BF16, so the bytes are
FP8's and the peak BF16's. INT4 is weight-only everywhere (W4A16). FP4 without FP4 tensor cores is not
run (FP4 needs Blackwell or MI355X). The KV cache's format changes bytes, never the peak: attention
is counted at the weights' math peak as before.
"""

from dataclasses import dataclass

from bench.inputs.precision import WEIGHT_ONLY_FORMATS, Precision
from tokencost.pricing.catalog import HardwareEntry


@dataclass(frozen=True)
class Support:
    """How `hardware` runs a precision arm."""

    math: str  # the format its tensor cores multiply in: bf16, fp8 or fp4
    weight_only: bool  # the weights are read in their format and multiplied in `math`
    why_not: str | None = None  # the GPU cannot run the arm at all

    @property
    def peak_field(self) -> str:
        return f"{self.math}_tflops"


def support(hardware: HardwareEntry, precision: Precision) -> Support:
    weights = precision.weights
    if weights == "bf16":
        return Support("bf16", False)
    if weights in WEIGHT_ONLY_FORMATS:
        return Support("bf16", True)
    if hardware.get(f"{weights}_tflops") is not None:
        return Support(weights, False)
    if weights == "fp8":
        return Support("bf16", True)  # vLLM's Marlin kernels: FP8 weights, BF16 matmuls
    return Support(
        "bf16",
        False,
        f"{hardware.display_name} has no {weights.upper()} tensor cores in the catalog "
        f"({weights.upper()} needs Blackwell or MI355X): {precision.name} is not run there",
    )


def describe(hardware: HardwareEntry, precision: Precision) -> str:
    """The arm in words, saying where the GPU runs it weight-only, e.g. for labels."""
    how = support(hardware, precision)
    if how.weight_only:
        weights = (
            f"{precision.weights.upper()} weights weight-only on {hardware.key} "
            f"(read as {precision.weights.upper()}, multiplied in BF16)"
        )
    else:
        weights = f"{precision.weights.upper()} weights"
    return f"{weights}, {precision.kv_cache.upper()} KV cache"
