import json

import pytest

from bench.errors import UserError
from bench.records import SCHEMA_VERSION, RecordWriter, read_records


def test_round_trip_keeps_order_and_adds_schema_version(tmp_path):
    writer = RecordWriter(tmp_path)
    writer.append({"point": "a", "value": 1.5})
    writer.append({"point": "b", "nested": {"x": [1, 2]}})
    records = read_records(tmp_path)
    assert records == [
        {"schema_version": SCHEMA_VERSION, "point": "a", "value": 1.5},
        {"schema_version": SCHEMA_VERSION, "point": "b", "nested": {"x": [1, 2]}},
    ]


def test_torn_last_line_is_skipped(tmp_path):
    RecordWriter(tmp_path).append({"point": "a"})
    with (tmp_path / "records.jsonl").open("a") as f:
        f.write('{"schema_version": 1, "point": "b", "tok')
    assert [r["point"] for r in read_records(tmp_path)] == ["a"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    (tmp_path / "records.jsonl").write_text('{"schema_version": 1}\nnot json\n{"schema_version": 1}\n')
    with pytest.raises(UserError, match="records.jsonl:2: is not a JSON record"):
        read_records(tmp_path)


def test_unknown_schema_version_is_refused(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps({"schema_version": 99}) + "\n")
    with pytest.raises(UserError, match="schema_version: 99 is not supported"):
        read_records(tmp_path)
