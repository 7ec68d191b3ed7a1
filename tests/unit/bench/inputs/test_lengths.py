import itertools
import math

import numpy as np
import pytest

from bench.errors import UserError
from bench.inputs.lengths import (
    LengthSettings,
    length_pairs,
    lengths_requests,
    max_context,
    mean_lengths,
)
from bench.inputs.requests import FIRST_ORDINARY_TOKEN_ID
from bench.validation import parse


def draw(settings: LengthSettings, count: int, seed: int = 0) -> np.ndarray:
    pairs = itertools.islice(length_pairs(settings, np.random.default_rng(seed)), count)
    return np.array(list(pairs))


def histogram(tmp_path, text: str, name: str = "mix.csv") -> LengthSettings:
    path = tmp_path / name
    path.write_text(text)
    return LengthSettings(distribution="histogram", histogram=str(path))


def test_lognormal_lengths_have_the_mean_asked_for():
    settings = LengthSettings(
        input_mean=300, input_sigma=0.5, input_max=1_000_000, output_mean=80, output_sigma=1.0, output_max=1_000_000
    )
    pairs = draw(settings, 50_000)
    assert pairs[:, 0].mean() == pytest.approx(300, rel=0.02)
    assert pairs[:, 1].mean() == pytest.approx(80, rel=0.03)
    assert pairs.dtype.kind == "i" and pairs.min() >= 1
    assert mean_lengths(settings) == pytest.approx((300, 80), rel=0.03)


def test_lognormal_lengths_are_clipped_and_the_mean_says_so():
    settings = LengthSettings(input_mean=1000, input_max=500, output_mean=1, output_sigma=2.0)
    pairs = draw(settings, 5000)
    assert pairs[:, 0].max() == 500 and pairs[:, 0].min() >= 1
    assert pairs[:, 1].min() == 1  # most draws round to 0: clipped up to one token
    input_mean, output_mean = mean_lengths(settings)
    assert input_mean < 500
    assert output_mean > 1  # the clip at 1 raises it above the asked-for mean
    assert max_context(settings) == 500 + 1024


def test_sigma_zero_gives_the_mean_every_time():
    pairs = draw(LengthSettings(input_mean=256.4, input_sigma=0, output_mean=9.6, output_sigma=0), 3000)
    assert set(pairs[:, 0]) == {256} and set(pairs[:, 1]) == {10}


def test_draws_are_the_same_for_a_seed():
    settings = LengthSettings()
    assert (draw(settings, 2000, seed=4) == draw(settings, 2000, seed=4)).all()
    assert (draw(settings, 2000, seed=4) != draw(settings, 2000, seed=5)).any()


def test_requests_have_the_drawn_lengths():
    settings = LengthSettings(input_mean=20, output_mean=5)
    requests = list(itertools.islice(lengths_requests(settings, 100, np.random.default_rng(1)), 50))
    lengths = [(len(r.prompt), r.osl) for r in requests]
    assert len(set(lengths)) > 10
    assert all(FIRST_ORDINARY_TOKEN_ID <= t < 100 for r in requests for t in r.prompt)
    again = list(itertools.islice(lengths_requests(settings, 100, np.random.default_rng(1)), 50))
    assert [r.prompt for r in again] == [r.prompt for r in requests]


def test_histogram_rows_are_drawn_by_weight(tmp_path):
    settings = histogram(tmp_path, "input_length,output_length,weight\n10,1,3\n\n20,2,1\n 30 , 3 , 0\n")
    pairs = draw(settings, 20_000)
    assert set(map(tuple, pairs.tolist())) == {(10, 1), (20, 2)}  # the weightless pair never comes
    assert (pairs[:, 0] == 10).mean() == pytest.approx(0.75, abs=0.02)
    assert mean_lengths(settings) == (12.5, 1.25)
    assert max_context(settings) == 22


def test_a_histogram_without_weights_weighs_its_rows_the_same(tmp_path):
    settings = histogram(tmp_path, "\ufeffInput_Length, output_length\r\n100,7\r\n300,9\r\n")
    assert mean_lengths(settings) == (200.0, 8.0)
    assert max_context(settings) == 309
    assert (draw(settings, 10_000)[:, 0] == 100).mean() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"distribution": "histogram"}, 'distribution = "histogram" needs histogram'),
        ({"histogram": "mix.csv"}, 'histogram is used only with distribution = "histogram", not "lognormal"'),
        ({"distribution": "zipf"}, "distribution: is 'zipf'"),
        ({"input_mean": 0}, "input_mean: is 0"),
        ({"output_mean": float("nan")}, "output_mean: is nan"),
        ({"input_sigma": -0.1}, "input_sigma: is -0.1"),
        ({"output_max": 1024.0}, "output_max: is 1024.0"),
        ({"input_max": 10_000_001}, "input_max: is 10000001"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(UserError, match=f"^workload.lengths[ :].*{message}"):
        parse(LengthSettings, settings, "workload.lengths")


MALFORMED = {
    "bad header": ("isl,osl\n1,2\n", r"line 1: has the header 'isl,osl', not input_length,output_length\[,weight\]"),
    "header after blank lines": ("\n\ninput_length\n", r"line 3: has the header 'input_length'"),
    "too few values": ("input_length,output_length\n1,2\n3\n", r"line 3: has 1 values, not 2"),
    "too many values": ("input_length,output_length,weight\n1,2,3,4\n", r"line 2: has 4 values, not 3"),
    "float length": ("input_length,output_length\n1.5,2\n", r"line 2: input_length is '1.5', not a whole number"),
    "text length": ("input_length,output_length\n1,two\n", r"line 2: output_length is 'two', not a whole number"),
    "empty length": ("input_length,output_length\n,2\n", r"line 2: input_length is '', not a whole number"),
    "zero length": (
        "input_length,output_length\n0,2\n",
        r"line 2: input_length is '0', not a whole number of "
        r"tokens between 1 and 10000000",
    ),
    "negative length": ("input_length,output_length\n5,-2\n", r"line 2: output_length is '-2'"),
    "huge length": ("input_length,output_length\n10000001,2\n", r"line 2: input_length is '10000001'"),
    "negative weight": ("input_length,output_length,weight\n1,2,1\n1,2,-1\n", r"line 3: weight is '-1', not a finite"),
    "NaN weight": ("input_length,output_length,weight\n1,2,nan\n", r"line 2: weight is 'nan', not a finite number"),
    "infinite weight": ("input_length,output_length,weight\n1,2,inf\n", r"line 2: weight is 'inf'"),
    "text weight": ("input_length,output_length,weight\n1,2,heavy\n", r"line 2: weight is 'heavy'"),
    "bad quoting": ('input_length,output_length\n1,"2"x\n', r"line 2: output_length is '2x'"),
}


@pytest.mark.parametrize("text, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_histogram_names_its_file_and_row(tmp_path, text, message):
    settings = histogram(tmp_path, text)
    with pytest.raises(UserError, match=f"^workload.lengths.histogram: {tmp_path / 'mix.csv'} {message}.*; give a CSV"):
        max_context(settings)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("\n \n", "is empty"),
        ("input_length,output_length\n", "has a header but no rows"),
        ("input_length,output_length,weight\n1,2,0\n3,4,0.0\n", "has no row with a weight > 0; give at least one row"),
        ("input_length,output_length,weight\n1,2,1e308\n3,4,1e308\n", "'s weights add up past what a float holds"),
    ],
)
def test_a_histogram_without_anything_to_draw_is_refused(tmp_path, text, message):
    settings = histogram(tmp_path, text)
    with pytest.raises(UserError, match=f"^workload.lengths.histogram: {tmp_path / 'mix.csv'} ?{message}"):
        mean_lengths(settings)


def test_histogram_files_that_cannot_be_read_as_text_are_refused(tmp_path):
    field = "^workload.lengths.histogram: "
    missing = LengthSettings(distribution="histogram", histogram=str(tmp_path / "nope.csv"))
    with pytest.raises(UserError, match=f"{field}{tmp_path / 'nope.csv'} does not exist"):
        next(length_pairs(missing, np.random.default_rng(0)))
    directory = LengthSettings(distribution="histogram", histogram=str(tmp_path))
    with pytest.raises(UserError, match=f"{field}{tmp_path} is a directory"):
        max_context(directory)
    binary = tmp_path / "mix.xlsx"
    binary.write_bytes(b"PK\x03\x04\0\0\x14\0")
    with pytest.raises(UserError, match=f"{field}{binary} line 1: is binary"):
        max_context(LengthSettings(distribution="histogram", histogram=str(binary)))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"input_length,output_length\n1,2\n\xe9,3\n")
    with pytest.raises(UserError, match=f"{field}{latin1} line 3: is not UTF-8 text"):
        max_context(LengthSettings(distribution="histogram", histogram=str(latin1)))


def test_extreme_settings_stay_within_bounds():
    settings = LengthSettings(input_mean=10_000_000, input_sigma=10, input_max=10_000_000, output_sigma=10)
    pairs = draw(settings, 5000)
    assert pairs[:, 0].max() <= 10_000_000 and pairs.min() >= 1 and pairs[:, 1].max() <= 1024
    assert all(math.isfinite(mean) for mean in mean_lengths(settings))
