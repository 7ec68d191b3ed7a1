"""Fuzzing the records reader: it returns, or raises a one-line UserError (tests.support.fuzz)."""

import json

from hypothesis import given

from bench.run.records import read_records
from tests.support.fuzz import FUZZ, mutated, raw, returns_or_user_error, write
from tests.support.records_factory import point_record

# Records: a run directory whose records.jsonl holds a damaged record, or arbitrary bytes.
GOOD_RECORD = point_record().to_json()


@FUZZ
@given(mutated(GOOD_RECORD))
def test_records(record):
    folder = write(json.dumps(record, allow_nan=True).encode() + b"\n", "records.jsonl").parent
    returns_or_user_error(lambda: read_records(folder))


@FUZZ
@given(raw)
def test_record_bytes(data):
    returns_or_user_error(lambda: read_records(write(data, "records.jsonl").parent))
