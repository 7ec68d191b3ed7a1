"""The regime of a projected point: which kind of operating point it is, so its error band can be that regime's.

The serving model misses in different ways in different places (see tokencost/data/calibration/held-out.md):
a fixed per-step cost dominates small batches on fast GPUs, a full KV cache makes vLLM preempt and run below
the batch the memory holds on paper, long contexts shift a step's time to attention, several GPUs add the
collectives' cost, and a GPU or precision the model was not fitted on carries whatever differs. One name per
point, the first that applies in this order (the later ones are what the earlier ones are made of):

1. `borrowed calibration`: the GPU has no calibration of its own (another GPU's is applied);
2. the precision, where it is not BF16 (`fp8`, ...): the efficiency was fitted on BF16 measurements;
3. `multi-GPU`: more than one GPU (tensor or expert parallel);
4. `KV-saturated`: the batch is at (or within 10 % of) what the KV cache holds;
5. `long context`: a decode step reads a mean context of LONG_CONTEXT tokens or more, or the prompt is long
   and outweighs the output (prefill-heavy);
6. `small batch`: SMALL_BATCH sequences or fewer;
7. `mid batch`: the rest.
"""

from dataclasses import dataclass

SMALL_BATCH = 16
SATURATED = 0.9  # a batch at this share of the KV cache's capacity or more is saturated
LONG_CONTEXT = 4096  # mean tokens of context a decode step reads
PREFILL_HEAVY = 2048  # a prompt this long that is also longer than the output

BORROWED, MULTI_GPU, KV_SATURATED, LONG, SMALL, MID = (
    "borrowed calibration",
    "multi-GPU",
    "KV-saturated",
    "long context",
    "small batch",
    "mid batch",
)
BF16_REGIMES = (BORROWED, MULTI_GPU, KV_SATURATED, LONG, SMALL, MID)


@dataclass(frozen=True)
class Point:
    """What the regime of a point turns on."""

    borrowed: bool  # the calibration applied was fitted on another GPU
    precision: str  # "bf16", "fp8", "fp8-kv-fp8", ...
    gpus: int
    batch: float
    saturated: bool  # the batch is the KV cache's limit (see `saturated`)
    isl: float
    osl: float
    average_context: float


def saturated(batch: float, max_batch: float) -> bool:
    return max_batch > 0 and batch >= SATURATED * max_batch


def regime(point: Point) -> str:
    if point.borrowed:
        return BORROWED
    if point.precision != "bf16":
        return point.precision
    if point.gpus > 1:
        return MULTI_GPU
    if point.saturated:
        return KV_SATURATED
    if point.average_context >= LONG_CONTEXT or (point.isl >= PREFILL_HEAVY and point.isl > point.osl):
        return LONG
    return SMALL if point.batch <= SMALL_BATCH else MID
