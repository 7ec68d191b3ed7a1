"""Chat-like mixes of input and output lengths, without a dataset: a lognormal, or a histogram of pairs.

Lognormal: each length is a lognormal draw of the given arithmetic mean (in tokens) and sigma (of the underlying
normal), rounded and clipped to [1, max]; input and output lengths are drawn independently.

Histogram: a CSV file of length pairs, drawn by weight:

    input_length,output_length,weight
    128,64,5
    1024,256,1.5

The header names the columns; `weight` may be left out (every row then weighs the same). Every row has a whole
number of tokens > 0 for each length and, with the column, a finite weight >= 0; at least one weight is > 0.
Blank lines are skipped. The pairs are used as they are: the `*_max` settings clip lognormal draws only.
"""

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench.errors import UserError
from bench.inputs.requests import Request, token_ids
from bench.inputs.text_files import read_user_text

MAX_LENGTH = 10_000_000  # as bench.inputs.workload's MAX_TOKENS: refuses typos early
CHUNK = 1024  # draws at a time
MEAN_SAMPLE = 20_000  # lognormal draws that estimate the mean after clipping
HISTOGRAM_FIELD = "workload.lengths.histogram"
HISTOGRAM_FIX = "give a CSV file with the header input_length,output_length[,weight] and one pair a row"

Mean = Annotated[float, Field(strict=True, gt=0, le=MAX_LENGTH)]
Sigma = Annotated[float, Field(strict=True, ge=0, le=10)]
Max = Annotated[int, Field(strict=True, gt=0, le=MAX_LENGTH)]


class LengthSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    distribution: Literal["lognormal", "histogram"] = "lognormal"
    input_mean: Mean = 256
    output_mean: Mean = 128
    input_sigma: Sigma = 0.8
    output_sigma: Sigma = 0.6
    input_max: Max = 2048
    output_max: Max = 1024
    histogram: str | None = None  # a CSV file of pairs: distribution = "histogram" only

    @model_validator(mode="after")
    def _histogram_with_its_distribution(self):
        if self.distribution == "histogram" and self.histogram is None:
            raise ValueError('distribution = "histogram" needs histogram, the path of a CSV file of length pairs')
        if self.distribution != "histogram" and self.histogram is not None:
            raise ValueError(f'histogram is used only with distribution = "histogram", not "{self.distribution}"')
        return self

    @property
    def histogram_file(self) -> str:
        """The histogram's CSV file, which a histogram distribution has (checked above)."""
        assert self.histogram is not None, f"a {self.distribution} distribution has no histogram file"
        return self.histogram


@dataclass(frozen=True)
class Histogram:
    inputs: np.ndarray
    outputs: np.ndarray
    probabilities: np.ndarray


def length_pairs(settings: LengthSettings, rng: np.random.Generator) -> Iterator[tuple[int, int]]:
    """An endless stream of (input_length, output_length)."""
    histogram = read_histogram(settings.histogram_file) if settings.distribution == "histogram" else None
    while True:
        if histogram is not None:
            rows = rng.choice(len(histogram.probabilities), size=CHUNK, p=histogram.probabilities)
            inputs, outputs = histogram.inputs[rows], histogram.outputs[rows]
        else:
            inputs = _lognormal(rng, settings.input_mean, settings.input_sigma, settings.input_max, CHUNK)
            outputs = _lognormal(rng, settings.output_mean, settings.output_sigma, settings.output_max, CHUNK)
        yield from zip(inputs.tolist(), outputs.tolist(), strict=True)


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, maximum: int, size: int) -> np.ndarray:
    mu = math.log(mean) - sigma**2 / 2  # a lognormal's mean is exp(mu + sigma^2 / 2)
    return np.clip(np.rint(rng.lognormal(mu, sigma, size)), 1, maximum).astype(np.int64)


def lengths_requests(settings: LengthSettings, vocab_size: int, rng: np.random.Generator) -> Iterator[Request]:
    for isl, osl in length_pairs(settings, rng):
        yield Request(token_ids(rng, vocab_size, isl), osl)


def max_context(settings: LengthSettings) -> int:
    """The most tokens, prompt and output together, a request can have."""
    if settings.distribution == "histogram":
        histogram = read_histogram(settings.histogram_file)
        drawn = histogram.probabilities > 0
        return int((histogram.inputs[drawn] + histogram.outputs[drawn]).max())
    return settings.input_max + settings.output_max


def mean_lengths(settings: LengthSettings) -> tuple[float, float]:
    """The expected input and output lengths, after rounding and clipping."""
    if settings.distribution == "histogram":
        histogram = read_histogram(settings.histogram_file)
        return (float(histogram.probabilities @ histogram.inputs), float(histogram.probabilities @ histogram.outputs))
    rng = np.random.default_rng(0)  # a fixed sample: the same estimate every time
    inputs = _lognormal(rng, settings.input_mean, settings.input_sigma, settings.input_max, MEAN_SAMPLE)
    outputs = _lognormal(rng, settings.output_mean, settings.output_sigma, settings.output_max, MEAN_SAMPLE)
    return float(inputs.mean()), float(outputs.mean())


def read_histogram(file: str) -> Histogram:
    """The pairs of a histogram CSV file and their probabilities; any problem is a UserError naming the row."""
    path = Path(file)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text))
    header = None
    inputs, outputs, weights = [], [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if header is None:
                header = [cell.strip().lower() for cell in row]
                if header not in (["input_length", "output_length"], ["input_length", "output_length", "weight"]):
                    raise _bad(path, line, f"has the header {','.join(row)!r}, not input_length,output_length[,weight]")
                continue
            if len(row) != len(header):
                raise _bad(path, line, f"has {len(row)} values, not {len(header)} ({','.join(header)})")
            inputs.append(_length(row[0], "input_length", path, line))
            outputs.append(_length(row[1], "output_length", path, line))
            weights.append(_weight(row[2], path, line) if len(row) == 3 else 1.0)
    except csv.Error as e:
        raise _bad(path, reader.line_num, f"is not valid CSV ({e})") from None
    if header is None:
        raise UserError(HISTOGRAM_FIELD, f"{path} is empty", HISTOGRAM_FIX)
    if not inputs:
        raise UserError(HISTOGRAM_FIELD, f"{path} has a header but no rows", HISTOGRAM_FIX)
    total = sum(weights)
    if total <= 0:
        raise UserError(HISTOGRAM_FIELD, f"{path} has no row with a weight > 0", "give at least one row a weight > 0")
    if not math.isfinite(total):
        raise UserError(HISTOGRAM_FIELD, f"{path}'s weights add up past what a float holds", "give smaller weights")
    return Histogram(np.array(inputs, dtype=np.int64), np.array(outputs, dtype=np.int64), np.array(weights) / total)


def _read_text(path: Path) -> str:
    # utf-8-sig: a spreadsheet's CSV may start with a byte-order mark
    return read_user_text(path, HISTOGRAM_FIELD, "a histogram CSV file", HISTOGRAM_FIX, encoding="utf-8-sig")


def _bad(path: Path, line: int, problem: str) -> UserError:
    return UserError(HISTOGRAM_FIELD, f"{path} line {line}: {problem}", HISTOGRAM_FIX)


def _length(text: str, column: str, path: Path, line: int) -> int:
    text = text.strip()
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else 0  # digits only: no 1.5, 1e3
    if not 0 < value <= MAX_LENGTH:
        raise _bad(path, line, f"{column} is {text!r}, not a whole number of tokens between 1 and {MAX_LENGTH}")
    return value


def _weight(text: str, path: Path, line: int) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not math.isfinite(weight) or weight < 0:
        raise _bad(path, line, f"weight is {text.strip()!r}, not a finite number >= 0")
    return weight
