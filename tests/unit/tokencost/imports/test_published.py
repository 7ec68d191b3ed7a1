"""What the published results' importers share: each row's GPU name to a catalog key, --gpu choosing rows."""

from pathlib import Path

import pytest

from bench.errors import UserError
from tokencost.imports.published import figure, gpu_keys, whole
from tokencost.pricing.catalog import find_hardware, load_catalog

NAMES = [("[0].Accelerator", "NVIDIA H100-SXM-80GB"), ("[1].Accelerator", "NVIDIA GB300"), ("[2].hw", "h200")]


def resolve(name: str) -> str:
    return find_hardware(name, load_catalog()).key


def test_gpu_keeps_its_rows_and_leaves_out_the_others_even_unknown_ones():
    assert gpu_keys(Path("f.json"), NAMES, "H100", resolve) == ["h100-sxm", None, None]
    assert gpu_keys(Path("f.json"), NAMES, "h200", resolve) == [None, None, "h200"]


def test_without_gpu_an_unknown_gpu_is_refused_naming_it():
    with pytest.raises(UserError) as caught:
        gpu_keys(Path("f.json"), NAMES, None, resolve)
    assert caught.value.field == "f.json: [1].Accelerator" and "'NVIDIA GB300'" in caught.value.problem


def test_an_unknown_gpu_flag_is_refused_as_the_catalog_refuses_it():
    with pytest.raises(UserError, match="hardware|not-a-gpu"):
        gpu_keys(Path("f.json"), NAMES, "not-a-gpu", resolve)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "5", None])
def test_a_rate_must_be_a_finite_positive_number(value):
    with pytest.raises(UserError, match="give a finite number above 0"):
        figure(Path("f.json"), "[0].x", value, "as published")


@pytest.mark.parametrize("value", [0, 1.5, float("inf"), float("nan"), True, "8", None, -8])
def test_a_count_must_be_a_whole_number_of_at_least_one(value):
    with pytest.raises(UserError, match="give a whole number of at least 1"):
        whole(Path("f.json"), "[0].tp", value, "as published")
    assert whole(Path("f.json"), "[0].tp", 8.0, "as published") == 8
