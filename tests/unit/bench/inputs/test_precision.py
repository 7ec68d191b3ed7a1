"""Precision arms: their names, bytes and vLLM arguments, and the formats a run refuses."""

import pytest

from bench.inputs.precision import BF16, Precision, from_name, from_record, record_name


@pytest.mark.parametrize(
    "weights, kv_cache, name",
    [("bf16", "bf16", "bf16"), ("fp8", "bf16", "fp8"), ("fp8", "fp8", "fp8-kv-fp8"), ("bf16", "fp8", "bf16-kv-fp8")],
)
def test_a_name_says_both_formats_and_reads_back(weights, kv_cache, name):
    precision = Precision(weights=weights, kv_cache=kv_cache)
    assert precision.name == name
    assert from_name(name) == precision
    assert record_name(**precision.to_record()) == name


def test_bf16_keeps_the_keys_points_had_before_the_axis():
    assert BF16.is_default and BF16.key_suffix() == ""
    assert Precision(weights="fp8", kv_cache="fp8").key_suffix() == "-fp8-kv-fp8"


def test_an_unquantized_arm_is_recorded_in_the_engines_dtype():
    assert BF16.to_record("float16") == {"weights": "fp16", "kv_cache": "fp16"}
    assert Precision(kv_cache="fp8").to_record("float16") == {"weights": "fp16", "kv_cache": "fp8"}
    assert from_record("fp16", "fp16") == BF16  # the unquantized arm, in its dtype
    assert from_record("int8", "bf16") is None and from_name("nf4") is None  # formats this tokencost does not know


def test_bytes_of_a_weight_and_of_a_kv_element():
    assert BF16.weight_bytes(2) == 2 and BF16.kv_bytes(2) == 2
    fp8 = Precision(weights="fp8", kv_cache="fp8")
    assert fp8.weight_bytes(2) == 1 and fp8.kv_bytes(2) == 1
    assert Precision(weights="fp4").weight_bytes(2) == 0.5625  # 4 bits and an FP8 scale every 16 weights
    assert Precision(weights="int4").weight_bytes(2) == pytest.approx(0.515625)  # a 16-bit scale every 128


def test_vllm_is_asked_for_its_online_fp8_and_fp8_kv_cache():
    assert BF16.vllm_arguments() == {"quantization": None, "kv_cache_dtype": "auto"}
    assert Precision(weights="fp8", kv_cache="fp8").vllm_arguments() == {"quantization": "fp8", "kv_cache_dtype": "fp8"}


@pytest.mark.parametrize("weights", ["fp4", "int4"])
def test_formats_vllm_cannot_quantize_to_online_are_not_runnable(weights):
    reason = Precision(weights=weights).runnable_reason() or ""
    assert f"{weights} weights need a checkpoint quantized to {weights}" in reason
    assert Precision(weights="fp8").runnable_reason() is None


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        Precision(weights="fp6")
