"""A user's JSON read with every way it can fail a one-line error naming the file and the field.

Python's json stops at syntax: it accepts NaN and Infinity, reads 1e999 as inf, reads a 5,000-digit integer
into a ValueError, a 400-digit one into an int no float holds (math.isfinite raises OverflowError on it), and
a deeply nested file into a RecursionError. Every reader of a user's JSON (the result-file importers, model
cards, traces) goes through `loads_json` so that none of those reaches the code that uses the values.
"""

import json
import math
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.inputs.text_files import read_user_text

MAX_DEPTH = 64  # objects and lists inside each other; no tool's result file or config comes near
MAX_INTEGER = 2**63 - 1  # the largest count any tool writes (int64); beyond it, no float holds it exactly
MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))


class JsonProblem(ValueError):
    """What is wrong with a JSON text and, where it is a value, the field's path (e.g. metrics.ttft.p50)."""

    def __init__(self, problem: str, at: str = ""):
        self.problem, self.at = problem, at
        super().__init__(f"{at} {problem}" if at else problem)


class _Refused:
    """A number the parser met that no reader may see, kept in place so the walk can name its field."""

    def __init__(self, text: str, why: str):
        self.text, self.why = text, why


def _integer(text: str) -> int | _Refused:
    # Checked on the text, before int() (which refuses over 4,300 digits with a ValueError of its own).
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS or abs(int(text)) > MAX_INTEGER:
        return _Refused(text, "larger than 2^63 - 1 (more than any count)")
    return int(text)


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(text, "not a finite number")


def loads_json(text: str, infinity: bool = False) -> Any:
    """The JSON value of `text`, every number in it finite and at most MAX_INTEGER, nested at most MAX_DEPTH
    deep; else JsonProblem saying where. NaN and -Infinity (Python's extensions to JSON) are refused, and so is
    Infinity unless `infinity`: `vllm bench serve` writes a request rate of all at once so."""

    def constant(name: str) -> float | _Refused:
        return math.inf if infinity and name == "Infinity" else _Refused(name, "not a JSON number")

    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=constant)
    except RecursionError:
        raise JsonProblem(f"is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as e:
        raise JsonProblem(f"is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    _check(value)
    return value


def _check(value: Any) -> None:
    """Walks the value without recursion (a nested file must not exhaust the stack here either)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, at = stack.pop()
        if isinstance(item, dict | list) and len(at) >= MAX_DEPTH:  # the outermost is level 1
            raise JsonProblem(f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, _Refused):
            shown = item.text if len(item.text) <= 24 else f"{item.text[:12]}...({len(item.text)} digits)"
            raise JsonProblem(f"is {shown}, {item.why}", _dotted(at))
        if isinstance(item, dict):
            stack.extend((v, (*at, str(k))) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, (*at, f"[{i}]")) for i, v in reversed(list(enumerate(item))))


def _dotted(at: tuple[str, ...]) -> str:
    return ".".join(at).replace(".[", "[") or "(top level)"


def read_user_json(path: Path, field: str, what: str, format_fix: str, infinity: bool = False) -> Any:
    """The JSON value of a user's file, refused in one line naming `field`, the file and the place in it;
    `what` names the file expected ("a model card's config.json"), `format_fix` says what it must hold;
    `infinity` as for loads_json."""
    text = read_user_text(path, field, what, format_fix)
    try:
        return loads_json(text, infinity)
    except JsonProblem as e:
        raise UserError(field, f"{path}: {e}", format_fix) from None
