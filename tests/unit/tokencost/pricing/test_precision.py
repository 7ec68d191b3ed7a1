"""Which GPUs multiply in which format, read off the catalog's tensor-core peaks."""

import pytest

from bench.inputs.precision import Precision
from tokencost.pricing.catalog import find_hardware, load_catalog
from tokencost.pricing.precision import describe, support

CATALOG = load_catalog()
FP8, FP4, INT4 = Precision(weights="fp8"), Precision(weights="fp4"), Precision(weights="int4")


def gpu(key):
    return find_hardware(key, CATALOG)


@pytest.mark.parametrize("key", ["h100-sxm", "h200", "l40s", "b200", "mi300x"])
def test_fp8_is_multiplied_in_fp8_where_the_gpu_has_fp8_tensor_cores(key):
    how = support(gpu(key), FP8)
    assert (how.math, how.weight_only, how.why_not) == ("fp8", False, None)


@pytest.mark.parametrize("key", ["a100-80gb-sxm", "a100-40gb-pcie", "a10g"])
def test_fp8_weights_run_weight_only_without_fp8_tensor_cores(key):
    how = support(gpu(key), FP8)
    assert (how.math, how.weight_only, how.why_not) == ("bf16", True, None)
    assert "weight-only" in describe(gpu(key), FP8) and "multiplied in BF16" in describe(gpu(key), FP8)


@pytest.mark.parametrize("key", ["a100-80gb-sxm", "h100-sxm", "h200", "mi300x"])
def test_fp4_is_not_run_before_blackwell(key):
    why_not = support(gpu(key), FP4).why_not
    assert why_not and "no FP4 tensor cores" in why_not and "\n" not in why_not


@pytest.mark.parametrize("key", ["b200", "gb200", "b300", "mi355x"])
def test_fp4_is_multiplied_in_fp4_on_blackwell_and_mi355x(key):
    assert support(gpu(key), FP4).math == "fp4"
    assert gpu(key).figures["fp4_tflops"].source  # every peak carries its source


def test_int4_is_weight_only_everywhere_and_bf16_is_bf16():
    assert support(gpu("h100-sxm"), INT4).weight_only and support(gpu("b200"), INT4).math == "bf16"
    assert support(gpu("b200"), Precision()) == support(gpu("a100-80gb-sxm"), Precision())
