"""The GPU table's precision axis: which arms of inputs.toml's precisions each GPU runs, and what FP8 or FP4 gains
over BF16 at the same point.

BF16 is the calibrated arm; FP8 and FP4 take BF16's efficiency with a band twice BF16's held-out error
(tokencost.analysis.projection: UNCALIBRATED_BAND_FACTOR), as each row's label says. A GPU that cannot run an
arm (FP4 before Blackwell) is left out of the table, and the report says why.
"""

import pandas as pd

from bench.errors import UserError
from bench.inputs.precision import BF16, Precision, from_name
from tokencost.pricing.catalog import find_hardware
from tokencost.pricing.precision import support

# The column of costs.csv that sets each row beside its BF16 twin: BF16 $/M over this row's $/M, main preset.
BF16_OVER_THIS = "bf16_over_this_usd_per_m"


def precision_arm(name: str, where: str) -> Precision:
    """A precision arm by its short name ('bf16', 'fp8', 'fp4', 'fp8-kv-fp8'), or a one-line error."""
    arm = from_name(name)
    if arm is None or arm.name != name:
        raise UserError(where, f"{name!r} is not a precision arm", "use bf16, fp8, fp4, int4 or e.g. fp8-kv-fp8")
    return arm


def runnable_arms(inputs, catalog) -> list[tuple[str, str, Precision]]:
    """(model, GPU, precision) of every arm the GPU can run, in the inputs' order."""
    return [
        (model, gpu, arm)
        for model in inputs.models
        for gpu in inputs.gpus
        for arm in inputs.precisions
        if support(find_hardware(gpu, catalog), arm).why_not is None
    ]


def skipped_arms(inputs, catalog) -> list[str]:
    """Why each (GPU, precision) arm of the inputs is not projected, one line each."""
    reasons = []
    for gpu in inputs.gpus:
        for arm in inputs.precisions:
            why = support(find_hardware(gpu, catalog), arm).why_not
            if why:
                reasons.append(f"{gpu}, {arm.name}: {why}")
    return reasons


def with_bf16_ratio(projected: pd.DataFrame, main: str) -> pd.DataFrame:
    """`projected` with BF16_OVER_THIS: the BF16 row's $/M (input + output, main preset) at the same model, GPU,
    GPU count, lengths and batch, over this row's; empty where BF16 has no such row (a batch that only FP8's
    larger KV cache holds), 1 on BF16 rows."""
    cost = f"usd_per_m_total {main}"
    keys = ["model", "hardware", "accelerator_count", "isl", "osl", "batch_size"]
    bf16 = projected.loc[projected["precision"] == BF16.name, [*keys, cost]].rename(columns={cost: "_bf16"})
    merged = projected.merge(bf16, on=keys, how="left")
    projected = projected.copy()
    projected[BF16_OVER_THIS] = (merged["_bf16"] / merged[cost]).to_numpy()
    return projected
