import json
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from bench.records import SCHEMA_VERSION, RecordWriter, TornRecordWarning, read_records


def test_round_trip_keeps_order_and_adds_schema_version(tmp_path):
    writer = RecordWriter(tmp_path)
    writer.append({"point": "a", "value": 1.5})
    writer.append({"point": "b", "nested": {"x": [1, 2]}})
    assert read_records(tmp_path) == [
        {"schema_version": SCHEMA_VERSION, "point": "a", "value": 1.5},
        {"schema_version": SCHEMA_VERSION, "point": "b", "nested": {"x": [1, 2]}},
    ]


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    RecordWriter(tmp_path).append({"point": "a"})
    with (tmp_path / "records.jsonl").open("a") as f:
        f.write('{"schema_version": 2, "point": "b", "tok')
    with pytest.warns(TornRecordWarning, match="records.jsonl:2: torn last line"):
        assert [r["point"] for r in read_records(tmp_path)] == ["a"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    (tmp_path / "records.jsonl").write_text('{"schema_version": 2}\nnot json\n{"schema_version": 2}\n')
    with pytest.raises(UserError, match="records.jsonl:2: is not a JSON record"):
        read_records(tmp_path)


def test_schema_1_records_are_migrated(tmp_path):
    v1 = {"schema_version": 1, "point": "p", "status": "ok", "energy": {"method": "estimated", "energy_j": 3.0}}
    (tmp_path / "records.jsonl").write_text(json.dumps(v1) + "\n")
    (record,) = read_records(tmp_path)
    assert record["schema_version"] == 2
    assert record["energy"] == {"idle_power_w": None, "method": "estimated", "energy_j": 3.0}
    assert record["steady_state"]["reached"] is False and record["validity"] == {}


def test_a_malformed_old_record_is_a_user_error(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps({"schema_version": 1, "energy": "lots"}) + "\n")
    with pytest.raises(UserError, match="records.jsonl:1: a schema 1 record that cannot be migrated"):
        read_records(tmp_path)


@pytest.mark.parametrize("version", [99, 0, "2", None])
def test_unknown_schema_versions_are_refused(tmp_path, version):
    (tmp_path / "records.jsonl").write_text(json.dumps({"schema_version": version}) + "\n")
    with pytest.raises(UserError, match=r"schema_version: .* is not supported \(this tokencost reads versions 1 to 2\)"):
        read_records(tmp_path)


def test_secrets_never_reach_a_record(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefSECRET123")
    RecordWriter(tmp_path).append({"note": "token hf_abcdefSECRET123",
                                   "endpoint": "https://user:pa55word@api.example.test/v1?api_key=sk-live-999&x=1"})
    text = (tmp_path / "records.jsonl").read_text()
    for secret in ("hf_abcdefSECRET123", "pa55word", "sk-live-999"):
        assert secret not in text
    assert "https://[redacted]@api.example.test/v1?api_key=[redacted]&x=1" in text


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=80), st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["schema_version", "point", "status", "energy"]),
    st.one_of(st.integers(-2, 5), st.text(max_size=5), st.none()), max_size=4))), max_size=5))
def test_any_records_file_either_reads_or_is_a_user_error(tmp_path, lines):
    (tmp_path / "records.jsonl").write_text("\n".join(lines))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TornRecordWarning)
            read_records(tmp_path)
    except UserError as e:
        assert "\n" not in str(e)
