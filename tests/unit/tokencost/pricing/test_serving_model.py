"""The serving model: collectives, the KV limit, and what a calibration does to the roofline."""

from dataclasses import replace

import pytest

from bench.inputs.cards import load_card
from bench.inputs.fit import GIB, RESERVE_PER_GPU_BYTES
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.roofline import ceiling, hardware_of
from tokencost.pricing.serving_model import Calibration, collectives, kv_capacity, project_throughput

H100 = find_hardware("h100-sxm", load_catalog())
PLAIN = Calibration(
    key="t",
    engine="vllm",
    fitted_on="h100-sxm",
    efficiency={"dense": 0.5, "moe": 0.25},
    collective_latency_s=10e-6,
    collective_bandwidth_bytes_s=100e9,
    held_out_error={},
    source="test",
)


def test_collectives_of_tensor_and_expert_parallel():
    assert collectives(load_card("llama-3.1-8b").config, 1).per_step == 0
    dense = collectives(load_card("qwen3-32b").config, 2)
    assert (dense.per_step, dense.bytes_per_sequence) == (2 * 64, 2 * 1 / 2 * 5120 * 2)
    moe = collectives(load_card("qwen3-30b-a3b").config, 4)
    assert (moe.per_step, moe.bytes_per_sequence) == (2 * 48, 8 * 3 / 4 * 2048 * 2)


def test_kv_capacity_is_the_room_left_by_weights_and_reserve_at_the_average_context():
    card = load_card("qwen3-32b")
    room = 0.9 * 80 * GIB - card.params.total * 2 - RESERVE_PER_GPU_BYTES
    per_token = 64 * 2 * 8 * 128 * 2
    assert kv_capacity(card, 80 * GIB, 1, 1000) == int(int(room) // (per_token * 1000))
    assert kv_capacity(card, 24 * GIB, 1, 1000) == 0  # 65 GB of weights do not fit


def test_one_gpu_projection_is_the_roofline_over_the_efficiency():
    card = load_card("llama-3.1-8b")
    figures = hardware_of(H100, 1)
    p = project_throughput(card, figures, 1, 16, 512, 256, PLAIN)
    assert p.output_tok_s == pytest.approx(0.5 * ceiling(card.config, figures, 16, 512, 256).output_tok_s)
    assert p.fits and p.max_batch > 16


def test_two_gpus_pay_for_their_collectives():
    card = load_card("qwen3-32b")
    figures = hardware_of(H100, 2)
    p = project_throughput(card, figures, 2, 64, 512, 256, PLAIN)
    roof = ceiling(card.config, figures, 64, 512, 256)
    comm_s = 128 * (10e-6 + 5120 * 2 * 64 / 100e9)
    expected = 64 * 256 / (roof.prefill_s / 0.5 + 256 * (roof.decode_step_s / 0.5 + comm_s))
    assert p.output_tok_s == pytest.approx(expected)


def test_a_step_pays_its_fixed_overhead_and_one_for_each_sequence():
    card = load_card("llama-3.1-8b")
    figures = hardware_of(H100, 1)
    overheads = replace(PLAIN, step_overhead_s=1e-3, sequence_overhead_s=20e-6)
    for batch in (1, 64):
        plain = project_throughput(card, figures, 1, batch, 512, 256, PLAIN)
        p = project_throughput(card, figures, 1, batch, 512, 256, overheads)
        assert p.step_s == pytest.approx(plain.step_s + 1e-3 + batch * 20e-6)


def test_a_batch_beyond_the_kv_cache_does_not_fit():
    p = project_throughput(load_card("qwen3-32b"), hardware_of(H100, 1), 1, 512, 1024, 1024, PLAIN)
    assert not p.fits and 0 < p.max_batch < 64
