"""How much of a point's time went to input (prefill) and how much to output (decode).

Methods, in order of preference for each point:
- prefill-probe: bench timed the same prompts again with one output token each
  (prefill only); that time over the whole point's time is the input share, the
  rest is decode. Approximate under chunked prefill, where prefills and decodes
  share steps.
- least-squares: across points of the same model, hardware, engine and batch
  size with different ISL/OSL mixes, fit time = a x input tokens + b x output
  tokens; the input share is a x input / (a x input + b x output). The fit's
  relative RMS error is stated.
- whole-hour: no split possible; input and output $/M each charge the whole
  hour, as InferenceX does, and do not add up to the spend.
"""

import numpy as np
import pandas as pd

# Points share a fit only at the same coordinate: batch size offline, concurrency or request rate serving.
GROUP = ["model", "accelerator", "engine", "batch_size", "concurrency", "request_rate"]
WHOLE_HOUR = "whole-hour (not split)"


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
            continue
        a, b, error = fit
        input_time = a * group["input_tokens"]
        share[group.index] = input_time / (input_time + b * group["output_tokens"])
        method[group.index] = f"least-squares (n={len(group)}, rms error {error:.1%})"
    return pd.DataFrame({"input_time_share": share, "split_method": method})


def fit_time_per_token(group: pd.DataFrame) -> tuple[float, float, float] | None:
    """Seconds per input token and per output token, and the relative RMS error; None if not identifiable."""
    mixes = (group["input_tokens"] / group["output_tokens"]).round(6).nunique()
    if len(group) < 2 or mixes < 2:
        return None
    x = group[["input_tokens", "output_tokens"]].to_numpy(dtype=float)
    y = group["duration_s"].to_numpy(dtype=float)
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    if a < 0 or b <= 0:
        return None
    error = float(np.sqrt(np.mean((x @ [a, b] - y) ** 2)) / np.mean(y))
    return float(a), float(b), error
