"""How much of a point's time went to input (prefill) and how much to output (decode).

Methods, in order of preference for each point:
- prefill probes, uncached and cached: a cache-aware workload's point (shared-prefix,
  multi-turn, trace) has two probes of its prompts with one output token each: one
  with every request salted apart, nothing cached (T_u seconds for I_u prompt
  tokens), then the same requests again with their blocks in the prefix cache (T_c
  seconds for I_c tokens, H_c of them hits). Seconds per uncached input token
  t_u = T_u / I_u; per cached one t_c = max(0, T_c - (I_c - H_c) t_u) / H_c. The
  point's input time is (input - H) t_u + H t_c, with H the point's hits counted by
  vLLM (the hits its workload implies where vLLM counted none, as the method says);
  over the point's time, clipped to [0, 1], it is the input share.
- prefill-probe: bench timed the same prompts again with one output token each
  (prefill only); that time over the whole point's time is the input share, the
  rest is decode. Approximate under chunked prefill, where prefills and decodes
  share steps. A probe that took as long as the whole point (a stalled machine)
  is not used: the point is split as if it had none.
- least-squares: across points of the same model, hardware, engine, batch
  size and workload (random points of any lengths, any other kind's points only
  with those of the same label, whose reuse they share) with at least 2 ISL/OSL
  mixes, fit time = a x input tokens + b x output tokens (+ c, a fixed time per
  point, with 4 or more points); the input share is a x input / (a x input + b x
  output), so the fixed time c (batch fill and drain) is spread over input and
  output in proportion. At least one more point
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

# Points share a fit only at the same coordinate (batch size offline, concurrency or request rate serving) and
# workload kind; a kind other than random also only with its own label (fit_workload).
GROUP = ["model", "accelerator", "engine", "precision", "batch_size", "concurrency", "request_rate", "workload_kind"]
WHOLE_HOUR = "whole-hour (not split)"
CACHED_PROBES = "prefill probes, uncached and cached"
OVERLONG_PROBE = f"{WHOLE_HOUR.removesuffix(')')}: its prefill probe took as long as the whole point)"
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
    """Columns input_time_share (NaN where not split), split_method, and the seconds per uncached and per cached
    input token the prefill probes measured (NaN where not), aligned with `points`."""
    share = pd.Series(np.nan, index=points.index)
    method = pd.Series(WHOLE_HOUR, index=points.index)
    uncached_s, cached_s = probe_seconds_per_token(points)

    # A probe as long as the whole point (the machine stalled during it) would book every second to input and price
    # output at 0: such a point is split as if it had no probe, and says why where nothing else splits it.
    overlong = points["prefill_duration_s"].notna() & (points["prefill_duration_s"] >= points["duration_s"])
    probed = points["prefill_duration_s"].notna() & (points["duration_s"] > 0) & ~overlong
    share[probed] = (points.loc[probed, "prefill_duration_s"] / points.loc[probed, "duration_s"]).clip(0, 1)
    method[probed] = "prefill-probe"

    both = probed & _number(points, "cached_prefill_duration_s").notna()
    cached_share, cached_method = _cached_split(points[both], uncached_s[both], cached_s[both])
    share[both], method[both] = cached_share, cached_method

    keys = [points[c] for c in GROUP if c in points] + ([fit_workload(points)] if "workload_label" in points else [])
    for _, group in points[~probed].groupby(keys, dropna=False):
        fit = fit_time_per_token(group)
        if fit is None:
            if len(group) == 2 and _mixes(group) == 2:
                method[group.index] = (
                    f"{WHOLE_HOUR.removesuffix(')')}: 2 points of 2 mixes fit exactly, "
                    f"unverified; least squares needs {MIN_POINTS} or more)"
                )
            continue
        input_time = fit.per_input_s * group["input_tokens"]
        share[group.index] = input_time / (input_time + fit.per_output_s * group["output_tokens"])
        method[group.index] = fit.method(len(group))
    method[overlong & share.isna()] = OVERLONG_PROBE
    return pd.DataFrame(
        {
            "input_time_share": share,
            "split_method": method,
            "uncached_input_s_per_token": uncached_s,
            "cached_input_s_per_token": cached_s,
        }
    )


def fit_workload(points: pd.DataFrame) -> pd.Series:
    """The workload a fit keys on: "random" for random points (the fit spans their lengths), the label else."""
    kind = points["workload_kind"] if "workload_kind" in points else pd.Series("random", index=points.index)
    return points["workload_label"].where(kind.fillna("random") != "random", "random").rename("fit_workload")


def _number(points: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats, NaN where missing (also where the table has no such column)."""
    if column not in points:
        return pd.Series(np.nan, index=points.index)
    return pd.to_numeric(points[column], errors="coerce").astype(float)


def probe_seconds_per_token(points: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Seconds per uncached input token t_u = T_u / I_u (the salted probe), and per cached input token
    t_c = max(0, T_c - (I_c - H_c) t_u) / H_c (the cached probe: its uncached tokens' time taken off, the rest
    over its hits); NaN where a probe is missing, and t_c also where the cached probe had no hits."""
    probe_tokens = _number(points, "prefill_input_tokens")
    uncached = _number(points, "prefill_duration_s") / probe_tokens.where(probe_tokens > 0)
    hits = _number(points, "cached_prefill_hits")
    cached_probe_uncached = _number(points, "cached_prefill_input_tokens") - hits
    rest = _number(points, "cached_prefill_duration_s") - cached_probe_uncached * uncached
    cached = rest.clip(lower=0) / hits.where(hits > 0)
    return uncached.rename("uncached_input_s_per_token"), cached.rename("cached_input_s_per_token")


def _cached_split(points: pd.DataFrame, uncached_s: pd.Series, cached_s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The input share of points with both probes: (input - H) t_u + H t_c over the point's time, and its method;
    whole-hour, saying why, where a time or the point's hits are unknown."""
    hits = _number(points, "cached_input_tokens")
    measured = points["cached_input_basis"] == "measured" if "cached_input_basis" in points else hits.notna()
    cached_time = (hits * cached_s).where(hits != 0, 0.0)  # no hits need no cached time
    input_time = (points["input_tokens"] - hits) * uncached_s + cached_time
    share = (input_time / points["duration_s"]).clip(0, 1)
    method = pd.Series(f"{CACHED_PROBES} (hits implied by the workload: vLLM counted none)", index=points.index)
    method[measured] = f"{CACHED_PROBES} (hits measured)"
    why = pd.Series("the point's prefix-cache hits are unknown", index=points.index)
    why[hits.notna() & uncached_s.isna()] = "the uncached probe has no input tokens"
    why[hits.notna() & uncached_s.notna()] = "the cached probe counted no prefix-cache hits"
    method[share.isna()] = f"{WHOLE_HOUR.removesuffix(')')}: " + why[share.isna()] + ")"
    return share, method


def _mixes(group: pd.DataFrame) -> int:
    return int((group["input_tokens"] / group["output_tokens"]).round(6).nunique())


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
