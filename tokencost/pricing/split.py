"""How much of a point's time went to input (prefill) and how much to output (decode).

Methods, in order of preference for each point:
- prefill-probe: bench timed the same prompts again with one output token each
  (prefill only); that time over the whole point's time is the input share, the
  rest is decode. Approximate under chunked prefill, where prefills and decodes
  share steps.
- least-squares: across points of the same model, hardware, engine and batch
  size with at least 2 ISL/OSL mixes, fit time = a x input tokens + b x output
  tokens (+ c, a fixed time per point, with 4 or more points); the input share
  is a x input / (a x input + b x output), so the fixed time c (batch fill and
  drain) is spread over input and output in proportion. At least one more point
  than parameters is required, so the fit's error is measured, not zero by
  construction: 3 points without the intercept, 4 with it. The relative RMS
  error (residual sum of squares over the degrees of freedom left, root, over
  the mean time) is stated, and whether c was fitted. The model leaves out the
  decode's KV reads growing with ISL (output x ISL), so at long contexts some
  decode time is booked as input.
- whole-hour: no split possible; input and output $/M each charge the whole
  hour, as InferenceX does, and do not add up to the spend. Two points of two
  mixes would fit a and b exactly: that fit is unverified, so it is not used.
"""

from typing import NamedTuple

import numpy as np
import pandas as pd

# Points share a fit only at the same coordinate: batch size offline, concurrency or request rate serving.
GROUP = ["model", "accelerator", "engine", "batch_size", "concurrency", "request_rate"]
WHOLE_HOUR = "whole-hour (not split)"
MIN_POINTS = 3  # without the intercept: 2 parameters and at least 1 degree of freedom left
MIN_POINTS_WITH_INTERCEPT = 4


class TimeFit(NamedTuple):
    """Seconds per input token, per output token, fixed per point (0 when not fitted), and the relative RMS error."""

    per_input_s: float
    per_output_s: float
    fixed_s: float
    rms_error: float
    intercept: bool

    def method(self, n: int) -> str:
        fixed = f"intercept {self.fixed_s:.3g} s a point, spread pro rata" if self.intercept else "no intercept"
        return f"least-squares (n={n}, {fixed}, rms error {self.rms_error:.1%})"


def input_time_shares(points: pd.DataFrame) -> pd.DataFrame:
    """Columns input_time_share (NaN where not split) and split_method, aligned with `points`."""
    share = pd.Series(np.nan, index=points.index)
    method = pd.Series(WHOLE_HOUR, index=points.index)

    probed = points["prefill_duration_s"].notna() & (points["duration_s"] > 0)
    share[probed] = (points.loc[probed, "prefill_duration_s"] / points.loc[probed, "duration_s"]).clip(0, 1)
    method[probed] = "prefill-probe"

    for _, group in points[~probed].groupby([c for c in GROUP if c in points], dropna=False):
        fit = fit_time_per_token(group)
        if fit is None:
            if len(group) == 2 and _mixes(group) == 2:
                method[group.index] = (f"{WHOLE_HOUR.removesuffix(')')}: 2 points of 2 mixes fit exactly, "
                                       f"unverified; least squares needs {MIN_POINTS} or more)")
            continue
        input_time = fit.per_input_s * group["input_tokens"]
        share[group.index] = input_time / (input_time + fit.per_output_s * group["output_tokens"])
        method[group.index] = fit.method(len(group))
    return pd.DataFrame({"input_time_share": share, "split_method": method})


def _mixes(group: pd.DataFrame) -> int:
    return (group["input_tokens"] / group["output_tokens"]).round(6).nunique()


def fit_time_per_token(group: pd.DataFrame) -> TimeFit | None:
    """The fit of the group's times, with an intercept where it is identifiable and non-negative; None where
    there are too few points or mixes for a measured error, or the per-token times come out non-physical."""
    if len(group) < MIN_POINTS or _mixes(group) < 2:
        return None
    tokens = group[["input_tokens", "output_tokens"]].to_numpy(dtype=float)
    y = group["duration_s"].to_numpy(dtype=float)
    if len(group) >= MIN_POINTS_WITH_INTERCEPT:
        x = np.column_stack([tokens, np.ones(len(group))])
        if np.linalg.matrix_rank(x) == 3:
            fit = _fit(x, y, intercept=True)
            if fit is not None:
                return fit
    return _fit(tokens, y, intercept=False)


def _fit(x: np.ndarray, y: np.ndarray, intercept: bool) -> TimeFit | None:
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    a, b = coefficients[:2]
    fixed = coefficients[2] if intercept else 0.0
    if a < 0 or b <= 0 or fixed < 0:
        return None
    dof = len(y) - x.shape[1]
    error = float(np.sqrt(np.sum((x @ coefficients - y) ** 2) / dof) / np.mean(y))
    return TimeFit(float(a), float(b), float(fixed), error, intercept)
