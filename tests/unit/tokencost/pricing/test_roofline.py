"""Roofline ceilings against hand-computed cases."""

import pytest

from bench.inputs.cards import load_card
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.roofline import (
    RooflineHardware,
    ceiling,
    expected_distinct_experts,
    hardware_of,
    weight_bytes_read,
)

H100 = hardware_of(find_hardware("h100-sxm", load_catalog()), 1)


def test_8b_dense_at_batch_1_is_bandwidth_over_weight_bytes():
    config = load_card("llama-3.1-8b").config
    # 8.03 B parameters less the 0.525 B input embedding table (read a row at a time), 2 bytes each
    weights = (8_030_261_248 - 128_256 * 4096) * 2
    assert weight_bytes_read(config, 1, 2) == weights
    c = ceiling(config, H100, batch=1, isl=1, osl=1)
    assert c.decode_bound == "memory"
    # ~3.35 TB/s / 15.0 GB ~ 223 decode steps a second (209 if the whole 16 GB were read)
    step_bytes = weights + 1.5 * 32 * 2 * 8 * 128 * 2  # plus 1.5 tokens of KV cache
    assert 1 / c.decode_step_s == pytest.approx(3.35e12 / step_bytes, rel=1e-6)
    assert 200 < 1 / c.decode_step_s < 230


def test_compute_bound_at_large_batch():
    c = ceiling(load_card("llama-3.1-8b").config, H100, batch=4096, isl=1, osl=1)
    assert c.decode_bound == "compute" and c.prefill_bound == "compute"


def test_expected_distinct_experts():
    assert expected_distinct_experts(128, 8, 1) == pytest.approx(8)
    assert expected_distinct_experts(128, 8, 2) == pytest.approx(128 * (1 - (120 / 128) ** 2))
    assert expected_distinct_experts(128, 8, 10_000) == pytest.approx(128)


def test_moe_reads_few_experts_at_batch_1_and_all_at_large_batch():
    config = load_card("qwen3-30b-a3b").config
    total = 30_532_122_624 - 151_936 * 2048
    expert_bytes = 48 * 3 * 2048 * 768 * 2  # one expert in every layer
    assert weight_bytes_read(config, 1, 2) == pytest.approx((total - 48 * 120 * 3 * 2048 * 768) * 2)
    assert weight_bytes_read(config, 1e6, 2) == pytest.approx(total * 2)
    assert weight_bytes_read(config, 8, 2) > weight_bytes_read(config, 1, 2) + 10 * expert_bytes


def test_prefill_computes_logits_for_the_last_token_of_each_sequence_only():
    config = load_card("llama-3.1-8b").config
    compute_bound = RooflineHardware(1e30, 1e12, 1e12)  # FLOPs decide every step
    c = ceiling(config, compute_bound, batch=2, isl=100, osl=1)
    active = 8_030_261_248 - 128_256 * 4096  # the lookup table is no matmul
    lm_head = 128_256 * 4096
    attention = 4 * 200 * 50 * 32 * 32 * 128  # 200 prompt tokens over a mean context of 50
    flops = 2 * active * 200 - 2 * lm_head * (200 - 2) + attention
    assert c.prefill_s == pytest.approx(flops / 1e12, rel=1e-9)


def test_moe_ceiling_is_the_fewest_experts_and_dense_ceiling_is_unchanged():
    moe = ceiling(load_card("qwen3-30b-a3b").config, H100, batch=32, isl=128, osl=128)
    # uniform routing touches ~112 of 128 experts a layer at 32 tokens; the ceiling assumes 8
    assert moe.bound_output_tok_s > 3 * moe.output_tok_s
    dense = ceiling(load_card("llama-3.1-8b").config, H100, batch=32, isl=128, osl=128)
    assert dense.bound_output_tok_s == dense.output_tok_s
    config = load_card("qwen3-30b-a3b").config
    total = 30_532_122_624 - 151_936 * 2048
    assert weight_bytes_read(config, 1e6, 2, fewest_experts=True) == pytest.approx(
        (total - 48 * 120 * 3 * 2048 * 768) * 2
    )


def test_hardware_without_figures_has_no_roofline():
    assert hardware_of(find_hardware("a10g", load_catalog()), 1) is not None
    bare = type("E", (), {"get": staticmethod(lambda name: None)})()
    assert hardware_of(bare, 1) is None
    assert isinstance(H100, RooflineHardware) and H100.bandwidth_bytes_s == 3.35e12


def test_fp8_reads_half_the_linear_weights_and_multiplies_at_the_fp8_peak():
    from bench.inputs.precision import Precision

    config = load_card("llama-3.1-8b").config
    fp8 = Precision(weights="fp8", kv_cache="fp8")
    h100 = find_hardware("h100-sxm", load_catalog())
    assert hardware_of(h100, 1, precision=fp8).flops == 1979e12
    output_layer = 128_256 * 4096
    linear = 8_030_261_248 - 2 * output_layer  # less the input embedding and the output layer
    assert weight_bytes_read(config, 1, 1, output_layer_bytes=2) == linear + 2 * output_layer
    bf16 = ceiling(config, H100, batch=1, isl=1, osl=1)
    quantized = ceiling(config, hardware_of(h100, 1, precision=fp8), batch=1, isl=1, osl=1, precision=fp8)
    assert 1.8 < bf16.decode_step_s / quantized.decode_step_s < 2  # the BF16 output layer keeps it under 2x


def test_fp8_weights_on_an_a100_are_read_as_fp8_and_multiplied_at_the_bf16_peak():
    from bench.inputs.precision import Precision

    a100 = find_hardware("a100-80gb-sxm", load_catalog())
    fp8 = Precision(weights="fp8")
    assert hardware_of(a100, 1, precision=fp8).flops == hardware_of(a100, 1).flops == 312e12
    config = load_card("qwen3-8b").config
    bf16_prefill = ceiling(config, hardware_of(a100, 1), 8, 4096, 1)
    fp8_prefill = ceiling(config, hardware_of(a100, 1, precision=fp8), 8, 4096, 1, precision=fp8)
    assert bf16_prefill.prefill_bound == fp8_prefill.prefill_bound == "compute"
    assert fp8_prefill.prefill_s == pytest.approx(bf16_prefill.prefill_s)  # no FP8 math: compute time unchanged
