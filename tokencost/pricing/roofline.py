"""Roofline: the most tokens per second a model can reach on an accelerator.

Each decode step reads the weights it touches once (for an MoE, the expected
number of distinct experts a batch of B tokens routes to, under uniform
top-k routing) plus every sequence's KV cache, and does 2 FLOPs per active
parameter per token plus attention. The step takes the longer of bytes /
bandwidth and FLOPs / peak FLOPS; a batch of requests takes one prefill and
OSL decode steps at the average context. These are ceilings: no real engine
reaches them, and the ratio of measured to ceiling is the efficiency.
"""

from dataclasses import dataclass

from bench.inputs.params import count_params, gated_mlp_params, head_dim, moe_shape, sparse_layers

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
    max_batch_by_memory: int  # sequences of ISL+OSL tokens whose KV cache fits beside the weights


def expected_distinct_experts(num_experts: int, top_k: int, tokens: float) -> float:
    """Experts touched at least once when `tokens` tokens each pick top_k of num_experts uniformly."""
    return num_experts * (1 - (1 - top_k / num_experts) ** tokens)


def kv_bytes_per_token(config: dict, bytes_per_param: float) -> float:
    kv_heads = config.get("num_key_value_heads") or config["num_attention_heads"]
    return config["num_hidden_layers"] * 2 * kv_heads * head_dim(config) * bytes_per_param


def weight_bytes_read(config: dict, tokens: float, bytes_per_param: float) -> float:
    """Bytes of weights one forward pass over `tokens` tokens reads.

    The input embedding table is not read whole (only the rows of the tokens),
    unless it is tied to the output layer, which is.
    """
    weights = count_params(config).total
    if not config.get("tie_word_embeddings"):
        weights -= config["vocab_size"] * config["hidden_size"]
    moe = moe_shape(config)
    if moe:
        expert = gated_mlp_params(config["hidden_size"], moe.expert_intermediate)
        untouched = moe.num_experts - expected_distinct_experts(moe.num_experts, moe.top_k, tokens)
        weights -= len(sparse_layers(config)) * untouched * expert
    return weights * bytes_per_param


def _active_flops_per_token(config: dict) -> float:
    active = count_params(config).active
    if not config.get("tie_word_embeddings"):
        active -= config["vocab_size"] * config["hidden_size"]  # an embedding lookup is not a matmul
    return 2 * active


def _attention_flops(config: dict, query_tokens: float, context: float) -> float:
    """QK^T and AV: 2 matmuls x 2 FLOPs per multiply-add, per layer, per head."""
    return 4 * query_tokens * context * config["num_hidden_layers"] * config["num_attention_heads"] * head_dim(config)


def hardware_of(entry, units: float, dtype: str = "bfloat16") -> RooflineHardware | None:
    """A catalog entry's figures for `units` units; None where the catalog lacks them."""
    flops = entry.get("fp8_tflops") if dtype == "fp8" else entry.get("bf16_tflops")
    bandwidth, memory = entry.get("bandwidth_tbs"), entry.get("memory_gb")
    if not (flops and bandwidth and memory):
        return None
    return RooflineHardware(bandwidth * 1e12 * units, flops * 1e12 * units, memory * 1e9 * units)


def ceiling(config: dict, hardware: RooflineHardware, batch: int, isl: int, osl: int, dtype: str = "bfloat16") -> Ceiling:
    bpp = BYTES_PER_PARAM[dtype]
    kv_token = kv_bytes_per_token(config, bpp)

    def step(tokens: float, query_tokens: float, context: float, kv_read_tokens: float) -> tuple[float, str]:
        bytes_moved = weight_bytes_read(config, tokens, bpp) + kv_read_tokens * kv_token
        flops = _active_flops_per_token(config) * tokens + _attention_flops(config, query_tokens, context)
        memory_s, compute_s = bytes_moved / hardware.bandwidth_bytes_s, flops / hardware.flops
        return max(memory_s, compute_s), "memory" if memory_s >= compute_s else "compute"

    prefill_s, prefill_bound = step(batch * isl, batch * isl, isl / 2, batch * isl)
    average_context = isl + osl / 2
    decode_s, decode_bound = step(batch, batch, average_context, batch * average_context)
    total_s = prefill_s + osl * decode_s
    weights = weight_bytes_read(config, float("inf"), bpp)
    free = hardware.memory_bytes - weights
    return Ceiling(
        output_tok_s=batch * osl / total_s,
        total_tok_s=batch * (isl + osl) / total_s,
        decode_bound=decode_bound,
        prefill_bound=prefill_bound,
        decode_step_s=decode_s,
        prefill_s=prefill_s,
        max_batch_by_memory=max(0, int(free // (kv_token * (isl + osl)))),
    )
