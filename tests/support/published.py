"""Peers' published results (tests/fixtures/published) priced by `tokencost price`, as a user runs it."""

import json

import pandas as pd

from tests.support import FIXTURES
from tests.support.cli import tokencost

PUBLISHED = FIXTURES / "published"
# A rate for every GPU of the fixtures (the default, owned, preset has no MI300X price).
PRESET = "reserved-rental"


def priced(path, tmp_path, *args) -> list[dict]:
    """The rows of costs.csv that `tokencost price PATH --preset PRESET ARGS` writes."""
    csv = tmp_path / "costs.csv"
    result = tokencost("price", path, "--csv", csv, "--preset", PRESET, *args)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(csv).to_dict("records")


def refusal(path, *args) -> str:
    """The one line on stderr of `tokencost price PATH ARGS` refusing its input (exit 2, nothing on stdout)."""
    result = tokencost("price", path, *args)
    assert result.returncode == 2 and result.stdout == "", (result.returncode, result.stdout)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def written(path, rows):
    """`path`, holding `rows` (a result file's content, edited by a test) as JSON."""
    path.write_text(json.dumps(rows))
    return path
