"""Projected serving throughput: the roofline's step times, made real by a calibration.

An engine serving B sequences with continuous batching spends, per output token
of every sequence, one decode step of

    roofline decode step / efficiency  +  collectives x (latency + bytes per sequence x B / bandwidth)
                                       +  a fixed overhead a step  +  B x an overhead a sequence


and, once per sequence, its share of the roofline prefill / efficiency. The
efficiency (one per model kind: dense, MoE), the two overheads and the collectives'
latency and bandwidth are fitted to published measurements (tokencost.analysis.calibration);
they are not the hardware's datasheet figures, and absorb whatever else an
engine spends per step. The fixed overhead is what a step costs whatever its
size (scheduling, kernel launches): at a small batch on a fast GPU it
is a large share of the step, and a pure roofline projects such steps too fast.
The overhead a sequence is the work each sequence of a step adds whatever the
model's size and its context: sampling over the whole vocabulary (softmax, top-k /
top-p), logits processing, the scheduler's and detokenizer's bookkeeping for each
request. Without it a step's time grows with the batch only through the KV cache's
bytes, and the fit made up the difference elsewhere: on ML.ENERGY's chat points the
projected step of Llama-3.1-8B on an H100 fell from 1.01x the published median
inter-token latency at batch 8 to 0.70x at batch 691 while its throughput matched
(the prefill's share, overstated, hid it).

Collectives, per decode step, on G GPUs:
- dense, tensor parallel: 2 all-reduces a layer, each moving 2(G-1)/G x hidden x 2 bytes a sequence (ring);
- MoE, expert parallel: 2 all-to-alls (dispatch, combine) a sparse layer, each moving
  top_k x (G-1)/G x hidden x 2 bytes a sequence.

The batch stops where the KV cache is full: vLLM's share of each GPU's memory
(0.9), less the weights and a reserve (bench.inputs.fit), holds the sequences
at their average context. A batch beyond that is not served as a batch, so it
is not projected.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from bench.inputs.cards import ModelCard
from bench.inputs.fit import GIB, estimate
from bench.inputs.params import moe_shape, sparse_layers
from bench.inputs.precision import BF16, Precision
from bench.inputs.suite import EngineSettings
from tokencost.pricing.roofline import Ceiling, RooflineHardware, ceiling

ACTIVATION_BYTES = 2  # BF16 activations cross the links


@dataclass(frozen=True)
class Calibration:
    """What turns a roofline into a projection for one engine on one kind of GPU."""

    key: str
    engine: str
    fitted_on: str  # the catalog key of the GPU the measurements come from
    efficiency: dict[str, float]  # by model kind ("dense", "moe")
    collective_latency_s: float
    collective_bandwidth_bytes_s: float
    held_out_error: dict[str, float]  # worst |projected / measured - 1| on points left out of the fit, by kind
    source: str
    step_overhead_s: float = 0.0  # a decode step's fixed cost, whatever the batch
    sequence_overhead_s: float = 0.0  # a decode step's cost for each sequence in it, whatever the model or context
    # by precision arm name ("fp8"): what multiplies the efficiency, fitted on measurements in that precision
    precision_factor: dict[str, float] = field(default_factory=dict)

    def efficiency_of(self, kind: str, precision: Precision = BF16) -> float:
        """The efficiency of `kind` models in `precision`: BF16's, times the precision's fitted factor if any."""
        return self.efficiency[kind] * self.precision_factor.get(precision.name, 1.0)


@dataclass(frozen=True)
class Collectives:
    per_step: int
    bytes_per_sequence: float


def collectives(config: dict[str, Any], gpus: int) -> Collectives:
    """The collectives one decode step runs across `gpus` GPUs, and the bytes each moves per sequence."""
    if gpus <= 1:
        return Collectives(0, 0.0)
    hidden_bytes = config["hidden_size"] * ACTIVATION_BYTES
    moe = moe_shape(config)
    if moe:
        return Collectives(2 * len(sparse_layers(config)), moe.top_k * (gpus - 1) / gpus * hidden_bytes)
    return Collectives(2 * config["num_hidden_layers"], 2 * (gpus - 1) / gpus * hidden_bytes)


def kv_capacity(
    card: ModelCard,
    memory_bytes_per_gpu: float,
    gpus: int,
    average_context: float,
    dtype: str = "bfloat16",
    precision: Precision = BF16,
) -> int:
    """Sequences at `average_context` tokens whose KV cache fits beside the weights on `gpus` GPUs."""
    settings = EngineSettings.model_validate({"tensor_parallel_size": gpus, "dtype": dtype, "precision": precision})
    fit = estimate(card, settings, math.ceil(average_context), int(memory_bytes_per_gpu))
    return int(fit.kv_room // (fit.kv_per_token * average_context))


def kv_sequences(card: ModelCard, hardware: RooflineHardware, gpus: int, average_context: float, **arm: Any) -> int:
    """Sequences the KV cache of `gpus` GPUs whose figures (all of them together) are `hardware` holds; `arm`:
    kv_capacity's dtype and precision."""
    # memory_gb in the catalog is the HBM size, which is binary (an "80 GB" H100 has 80 GiB)
    return kv_capacity(card, hardware.memory_bytes / 1e9 / gpus * GIB, gpus, average_context, **arm)


@dataclass(frozen=True)
class Projection:
    batch: int  # the batch projected
    max_batch: int  # the most sequences the KV cache holds
    output_tok_s: float
    total_tok_s: float
    ceiling: Ceiling
    step_s: float  # one decode step of the batch: roofline / efficiency, plus its collectives

    @property
    def fits(self) -> bool:
        return self.batch <= self.max_batch

    @property
    def tok_s_per_user(self) -> float:
        """The pace each user reads at: every sequence of a steady batch decodes together, prefills included."""
        return self.output_tok_s / self.batch


def project_throughput(
    card: ModelCard,
    hardware: RooflineHardware,
    gpus: int,
    batch: int,
    isl: int,
    osl: int,
    calibration: Calibration,
    average_context: float | None = None,
    dtype: str = "bfloat16",
    precision: Precision = BF16,
) -> Projection:
    """Projected tok/s of `batch` sequences on `gpus` GPUs whose figures (all of them together) are `hardware`
    (its peak that of the format the precision arm is multiplied in: roofline.hardware_of)."""
    if average_context is None:
        average_context = isl + osl / 2
    roof = ceiling(card.config, hardware, batch, isl, osl, dtype, average_context, precision)
    efficiency = calibration.efficiency_of(card.kind, precision)
    comm = collectives(card.config, gpus)
    comm_s = comm.per_step * (
        calibration.collective_latency_s + comm.bytes_per_sequence * batch / calibration.collective_bandwidth_bytes_s
    )
    overhead_s = calibration.step_overhead_s + batch * calibration.sequence_overhead_s
    step_s = roof.decode_step_s / efficiency + comm_s + overhead_s
    total_s = roof.prefill_s / efficiency + osl * step_s
    max_batch = kv_sequences(card, hardware, gpus, average_context, dtype=dtype, precision=precision)
    return Projection(batch, max_batch, batch * osl / total_s, batch * (isl + osl) / total_s, roof, step_s)


def time_to_first_token_s(
    card: ModelCard,
    hardware: RooflineHardware,
    isl: int,
    osl: int,
    calibration: Calibration,
    projection: Projection,
    dtype: str = "bfloat16",
    precision: Precision = BF16,
) -> float:
    """Estimated TTFT of a request joining `projection`'s running batch: its own prefill (roofline / efficiency)
    and one decode step of the batch it joins. Queueing, chunked prefill and the prefill's collectives are not
    modelled, so this is a floor for a request that finds a free slot."""
    alone = ceiling(card.config, hardware, 1, isl, osl, dtype, precision=precision)
    return alone.prefill_s / calibration.efficiency_of(card.kind, precision) + projection.step_s
