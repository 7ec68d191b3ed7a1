"""Roofline: the most tokens per second a model can reach on an accelerator.

Each decode step reads the weights it touches once plus every sequence's KV
cache, and does 2 FLOPs per active parameter per token plus attention. The
step takes the longer of bytes / bandwidth and FLOPs / peak FLOPS; a batch of
requests takes one prefill and OSL decode steps at the average context.
Prefill computes logits for each sequence's last token only, as engines do.

A precision arm (bench.inputs.precision) sets the bytes of each weight of the
linear layers (the output layer stays in the dtype, as vLLM and the usual
checkpoints keep it) and of each KV element, and the peak: the one of the
format the GPU multiplies in (tokencost.pricing.precision; FP8 weights on an
A100 are read as FP8 and multiplied at the BF16 peak).

For a dense model this is a ceiling: no real engine reaches it, and the ratio
of measured to ceiling is the efficiency. For an MoE model the bytes depend on
routing: under uniform top-k routing a batch of B tokens touches the expected
number of distinct experts E(1 - (1 - k/E)^B). That is the *most* any routing
with the same per-token k reads on average (the count is concave in the
experts' shares), so it is an expectation, not a ceiling. The ceiling proper
assumes the fewest experts a batch can touch, k per layer (`bound_*` fields).
"""

import math
from dataclasses import dataclass
from typing import Any

from bench.errors import UserError
from bench.inputs.params import count_params, gated_mlp_params, head_dim, moe_shape, sparse_layers
from bench.inputs.precision import Precision
from tokencost.pricing.catalog import HardwareEntry
from tokencost.pricing.precision import support

BYTES_PER_PARAM = {"bfloat16": 2, "float16": 2, "auto": 2, "float32": 4, "fp8": 1}


@dataclass(frozen=True)
class RooflineHardware:
    """The three figures a roofline needs, for all the units serving the model."""

    bandwidth_bytes_s: float
    flops: float
    memory_bytes: float


@dataclass(frozen=True)
class Ceiling:
    output_tok_s: float
    total_tok_s: float
    decode_bound: str  # "memory" or "compute"
    prefill_bound: str
    decode_step_s: float
    prefill_s: float
    # The true ceiling: for an MoE, every batch touching only k experts a layer; for a dense model, the same figures.
    bound_output_tok_s: float
    bound_total_tok_s: float


def expected_distinct_experts(num_experts: int, top_k: int, tokens: float) -> float:
    """Experts touched at least once when `tokens` tokens each pick top_k of num_experts uniformly."""
    return num_experts * (1 - math.pow(1 - top_k / num_experts, tokens))


def kv_bytes_per_token(config: dict[str, Any], bytes_per_param: float) -> float:
    kv_heads = config.get("num_key_value_heads") or config["num_attention_heads"]
    return float(config["num_hidden_layers"] * 2 * kv_heads * head_dim(config) * bytes_per_param)


def weight_bytes_read(
    config: dict[str, Any],
    tokens: float,
    bytes_per_param: float,
    fewest_experts: bool = False,
    output_layer_bytes: float | None = None,
) -> float:
    """Bytes of weights one forward pass over `tokens` tokens reads.

    The input embedding table is not read whole (only the rows of the tokens),
    unless it is tied to the output layer, which is. An MoE layer reads the
    experts uniform routing is expected to touch, or with `fewest_experts` the
    top_k that every token could share. `output_layer_bytes` is a byte of the
    output layer's, where it differs from the others' (quantized weights).
    """
    weights: float = count_params(config).total
    if not config.get("tie_word_embeddings"):
        weights -= config["vocab_size"] * config["hidden_size"]
    moe = moe_shape(config)
    if moe:
        expert = gated_mlp_params(config["hidden_size"], moe.expert_intermediate)
        touched = (
            min(moe.top_k, moe.num_experts)
            if fewest_experts
            else expected_distinct_experts(moe.num_experts, moe.top_k, tokens)
        )
        weights -= len(sparse_layers(config)) * (moe.num_experts - touched) * expert
    output_layer: int = config["vocab_size"] * config["hidden_size"]
    return weights * bytes_per_param + output_layer * ((output_layer_bytes or bytes_per_param) - bytes_per_param)


def _lm_head_flops(config: dict[str, Any]) -> float:
    return float(2 * config["vocab_size"] * config["hidden_size"])


def _active_flops_per_token(config: dict[str, Any]) -> float:
    """FLOPs of one token through every layer and the output layer (an embedding lookup is not a matmul)."""
    active = count_params(config).active
    if not config.get("tie_word_embeddings"):
        active -= config["vocab_size"] * config["hidden_size"]
    return 2 * active


def _attention_flops(config: dict[str, Any], query_tokens: float, context: float) -> float:
    """QK^T and AV: 2 matmuls x 2 FLOPs per multiply-add, per layer, per head."""
    heads = config["num_hidden_layers"] * config["num_attention_heads"]
    return float(4 * query_tokens * context * heads * head_dim(config))


def hardware_of(
    entry: HardwareEntry, units: float, dtype: str = "bfloat16", precision: Precision | None = None
) -> RooflineHardware | None:
    """A catalog entry's figures for `units` units; None where the catalog lacks them. With a precision arm,
    the peak is that of the format the entry multiplies it in."""
    if precision is not None:
        flops = entry.get(support(entry, precision).peak_field)
    else:
        flops = entry.get("fp8_tflops") if dtype == "fp8" else entry.get("bf16_tflops")
    bandwidth, memory = entry.get("bandwidth_tbs"), entry.get("memory_gb")
    if not (flops and bandwidth and memory):
        return None
    return RooflineHardware(bandwidth * 1e12 * units, flops * 1e12 * units, memory * 1e9 * units)


def required_figures(entry: HardwareEntry, units: float, precision: Precision | None = None) -> RooflineHardware:
    """hardware_of, where a projection cannot go on without the figures."""
    figures = hardware_of(entry, units, precision=precision)
    if figures is None:
        raise UserError(
            f"hardware {entry.key}", "lacks bandwidth, FLOPS or memory figures", "give them in a --hardware file"
        )
    return figures


def ceiling(
    config: dict[str, Any],
    hardware: RooflineHardware,
    batch: int,
    isl: int,
    osl: int,
    dtype: str = "bfloat16",
    average_context: float | None = None,
    precision: Precision | None = None,
) -> Ceiling:
    """The ceiling for `batch` sequences of ISL prompt and OSL output tokens.

    `average_context` is the mean context a decode step reads (default ISL + OSL/2,
    right for fixed lengths; with variable output lengths it is ISL + E[O^2] / 2E[O]).
    `precision` sets the bytes of a weight and of a KV element (`hardware` carries its peak: hardware_of)."""
    output_bytes = BYTES_PER_PARAM[dtype]
    bpp: float = output_bytes
    kv_token = kv_bytes_per_token(config, bpp)
    if precision is not None:
        bpp = precision.weight_bytes(output_bytes)
        kv_token = kv_bytes_per_token(config, precision.kv_bytes(output_bytes))
    if average_context is None:
        average_context = isl + osl / 2

    def step(tokens: float, logits: float, context: float, kv_read_tokens: float, fewest: bool) -> tuple[float, str]:
        bytes_moved = weight_bytes_read(config, tokens, bpp, fewest, output_bytes) + kv_read_tokens * kv_token
        flops = (
            _active_flops_per_token(config) * tokens
            - _lm_head_flops(config) * (tokens - logits)
            + _attention_flops(config, tokens, context)
        )
        memory_s, compute_s = bytes_moved / hardware.bandwidth_bytes_s, flops / hardware.flops
        return max(memory_s, compute_s), "memory" if memory_s >= compute_s else "compute"

    def batch_time(fewest: bool) -> tuple[float, float, str, float, str]:
        prefill_s, prefill_bound = step(batch * isl, batch, isl / 2, batch * isl, fewest)
        decode_s, decode_bound = step(batch, batch, average_context, batch * average_context, fewest)
        return prefill_s + osl * decode_s, prefill_s, prefill_bound, decode_s, decode_bound

    total_s, prefill_s, prefill_bound, decode_s, decode_bound = batch_time(fewest=False)
    bound_s = batch_time(fewest=True)[0]
    return Ceiling(
        output_tok_s=batch * osl / total_s,
        total_tok_s=batch * (isl + osl) / total_s,
        decode_bound=decode_bound,
        prefill_bound=prefill_bound,
        decode_step_s=decode_s,
        prefill_s=prefill_s,
        bound_output_tok_s=batch * osl / bound_s,
        bound_total_tok_s=batch * (isl + osl) / bound_s,
    )


def host_hardware(
    entry: HardwareEntry, units: float, measured: dict[str, Any], resident_bytes: float
) -> tuple[RooflineHardware | None, str]:
    """A CPU point's figures with the bandwidth its run measured, and which bandwidth that is.

    `measured` holds the record's memory_bandwidth_gb_s, cache_bandwidth_gb_s, llc_bytes and
    bandwidth_threads. When the weights and KV cache a step reads (`resident_bytes`) fit in the
    last-level cache, the step streams from the cache, so the cache's bandwidth bounds it.
    Without a measurement, the catalog's figures stand."""
    catalog = hardware_of(entry, units)
    dram = measured.get("memory_bandwidth_gb_s")
    if catalog is None or not dram:
        return catalog, "catalog"
    share = units / (measured.get("bandwidth_threads") or units)  # the probe ran on every CPU the run could use
    cache, llc = measured.get("cache_bandwidth_gb_s"), measured.get("llc_bytes")
    if cache and llc and resident_bytes <= llc:
        return RooflineHardware(
            cache * 1e9 * share, catalog.flops, catalog.memory_bytes
        ), "measured cache (cache-resident)"
    return RooflineHardware(dram * 1e9 * share, catalog.flops, catalog.memory_bytes), "measured DRAM"
