"""What the importers of peers' published results share (InferenceX, MLPerf Inference).

Unlike a tool's result file (vllm bench serve, AIPerf, GuideLLM), a published results file names the GPUs that
served each row, and how many: each row's GPU name is mapped to its catalog key here, and `--gpu` only chooses
which rows to price. The files publish rates, not a run's window and token counts, so each record holds one
nominal hour at the published rates (NOMINAL_WINDOW_S): its prices are the rates' own, whatever the window.
"""

import math
from collections.abc import Callable
from pathlib import Path

from bench.errors import UserError
from tokencost.imports.vllm_bench import load_result_file

# A GPU's name to its catalog key, or a UserError saying why not (the CLI's catalog, with --hardware's entries).
Resolve = Callable[[str], str]

NOMINAL_WINDOW_S = 3600.0
WINDOW_NOTE = "published rates over one nominal hour (the file gives no run window or token counts)"
NO_POWER = {
    "method": "none",
    "boundary": "none",
    "energy_j": None,
    "avg_power_w": None,
    "basis": "the published results give no power; priced at the GPUs' TDP",
    "measured": False,
}
CATALOG_FIX = "give --gpu KEY to price only the rows of one catalog GPU, or describe the GPU with --hardware FILE"


def load_rows(path: Path, gpus: int | None, watts: float | None, fix: str) -> list[dict]:
    """The file's rows: a list of objects (or one object, a file of one row). --gpus and --watts, one count and
    one power for one result, are refused: a published file's rows ran on GPUs of their own, which it counts."""
    if gpus is not None:
        raise UserError(
            "--gpus",
            f"is one count, and {path} gives the GPUs of each of its rows",
            "leave --gpus out: each row is priced on the GPUs it names",
        )
    if watts is not None:
        raise UserError(
            "--watts",
            f"is one power, and the rows of {path} each ran on GPUs of their own",
            "leave --watts out: the rows are priced at their GPUs' TDP",
        )
    data = load_result_file(path, f"give the file {fix}")
    rows = data if isinstance(data, list) else [data]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UserError(f"{path}: [{i}]", f"is {repr(row)[:60]}", f"give an object per row, {fix}")
    return rows


def gpu_keys(path: Path, names: list[tuple[str, str]], wanted: str | None, resolve: Resolve) -> list[str | None]:
    """The catalog key of each row's GPU, given as (where in the file, the name published there); None for a row
    of another GPU than --gpu's. Without --gpu a GPU the catalog lacks is refused, naming it."""
    chosen = resolve(wanted) if wanted else None
    keys: list[str | None] = []
    for where, name in names:
        try:
            key = resolve(name)
        except UserError as e:
            if chosen is not None:
                keys.append(None)  # not the GPU asked for
                continue
            raise UserError(f"{path}: {where}", f"names GPU {name!r}: {e.problem}", CATALOG_FIX) from None
        keys.append(key if chosen in (None, key) else None)
    if chosen is not None and all(key is None for key in keys):
        raise UserError("--gpu", f"{chosen} served no row of {path}", "give a GPU the file names, or leave --gpu out")
    return keys


def figure(path: Path, where: str, value, fix: str, positive: bool = True) -> float:
    """A published number: finite, and above 0 unless `positive` is False (then at least 0)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0 or positive and value == 0:
        what = "a finite number above 0" if positive else "a finite number of at least 0"
        raise UserError(f"{path}: {where}", f"is {repr(value)[:60]}", f"give {what}, {fix}")
    return float(value)


def whole(path: Path, where: str, value, fix: str) -> int:
    """A published count: a whole number of at least 1."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 1 or value != int(value):
        raise UserError(f"{path}: {where}", f"is {repr(value)[:60]}", f"give a whole number of at least 1, {fix}")
    return int(value)


def text(path: Path, where: str, value, fix: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{path}: {where}", f"is {repr(value)[:60]}", f"give a non-empty text, {fix}")
    return value.strip()
