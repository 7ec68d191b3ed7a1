"""`--json`: one JSON document on stdout, named by its schema (e.g. "tokencost.quote/1"), and nothing else there.

While a command runs with --json, whatever else it prints (its log lines, a "wrote FILE" line) goes to stderr;
`emit` writes the document to the stdout the command was started with. Numbers stay numbers, a missing figure
(NaN, an infinity) is null, and a table is its rows (pandas' `to_dict(orient="records")`). The schemas are
listed in docs/commands.md.
"""

import contextlib
import dataclasses
import datetime
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tokencost.pricing.priced_runs import Pricing

SCHEMA_VERSION = 1  # raised when a field changes meaning or goes; a new field keeps it
_REAL_STDOUT: list[TextIO] = []  # the stdout of each command running with --json, innermost last


def schema(command: str) -> str:
    return f"tokencost.{command}/{SCHEMA_VERSION}"


@contextlib.contextmanager
def stdout_for_json(enabled: bool) -> Iterator[None]:
    """With --json, send everything printed inside the block to stderr, except the document `emit` writes."""
    if not enabled:
        yield
        return
    _REAL_STDOUT.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _REAL_STDOUT.pop()


def emit(command: str, **fields: Any) -> None:
    """Print the command's document: its schema, then `fields`."""
    document = plain({"schema": schema(command), **fields})
    out = _REAL_STDOUT[-1] if _REAL_STDOUT else sys.stdout
    out.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
    out.flush()


def rows(table) -> list[dict[str, Any]]:
    """A pandas table as a list of rows (column -> value)."""
    return list(table.to_dict(orient="records"))


def plain(value: Any) -> Any:
    """`value` as JSON's types: NaN and infinities as null, numpy scalars as numbers, times as ISO 8601 text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _missing(value):  # pandas' NA and NaT
        return None
    if isinstance(value, (datetime.date, datetime.time)):  # pandas' Timestamp too
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if hasattr(value, "item"):  # a numpy scalar
        return plain(value.item())
    raise TypeError(f"{type(value).__name__} has no JSON form: {value!r}")


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is pd.NA or value is pd.NaT


def pricing_fields(pricing: "Pricing") -> dict[str, Any]:
    """The preset and the API a document's figures were priced with."""
    a = pricing.assumptions
    return {
        "preset": {"name": a.name, "hash": a.hash, "ownership": a.ownership},
        "api": {"key": pricing.api.key, "name": pricing.api.display_name},
    }
