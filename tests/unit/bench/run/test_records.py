"""Records on disk: written through the schema, read back identical, migrated from older schemas, and refused
with one line naming the line and the field when damaged."""

import json
import logging
import re
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from bench.run.record import SCHEMA_VERSION
from bench.run.records import RecordWriter, TornRecordWarning, read_records, set_aside_torn_tail
from tests.conftest import CPU_DEMO
from tests.support import FIXTURES
from tests.support.examples import examples
from tests.support.records_factory import point_record, write_run


def test_round_trip_gives_the_same_records(tmp_path):
    records = [point_record(batch=1, prefill_s=2.0), point_record(batch=4, status="failed", error="OOM")]
    write_run(tmp_path, *records)
    assert read_records(tmp_path) == records
    lines = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [line["schema_version"] for line in lines] == [SCHEMA_VERSION] * 2
    assert lines[0]["prefill_probe"]["osl"] == 1 and "energy" not in lines[1]  # fields never set are left out


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    write_run(tmp_path, point_record())
    with (tmp_path / "records.jsonl").open("a") as f:
        f.write('{"schema_version": 3, "point": "b", "tok')
    with pytest.warns(TornRecordWarning, match="records.jsonl:2: torn last line"):
        assert [r.point for r in read_records(tmp_path)] == [point_record().point]


def test_corrupt_middle_line_is_an_error(tmp_path):
    good = json.dumps(point_record().to_json())
    (tmp_path / "records.jsonl").write_text(f"{good}\nnot json\n{good}\n")
    with pytest.raises(UserError, match="records.jsonl:2: is not a JSON record"):
        read_records(tmp_path)


def test_schema_1_records_are_migrated():
    records = read_records(FIXTURES / "claims")  # written with schema 1
    assert records and all(r.schema_version == SCHEMA_VERSION for r in records)
    first = records[0]
    assert first.energy.idle_power_w is None and first.steady_state.reached is False
    assert "schema 1" in first.steady_state.why and first.batch_size is not None


def test_schema_1_failed_records_are_migrated_without_an_energy_reading(tmp_path):
    v1 = json.loads((FIXTURES / "claims" / "records.jsonl").read_text().splitlines()[0])
    for key in ("energy", "input_tokens", "output_tokens", "duration_s", "output_tok_s", "total_tok_s"):
        v1.pop(key)
    v1 |= {"status": "failed", "failure": "out-of-memory", "error": "CUDA out of memory"}
    (tmp_path / "records.jsonl").write_text(json.dumps(v1) + "\n")
    (record,) = read_records(tmp_path)
    assert record.status == "failed" and record.energy is None and record.failure == "out-of-memory"


def test_schema_2_offline_records_get_their_batch_size_as_a_field():
    raw = json.loads((CPU_DEMO / "records.jsonl").read_text().splitlines()[0])
    assert raw["schema_version"] == 2 and "batch_size" in raw["engine"]
    record = read_records(CPU_DEMO)[0]
    assert record.batch_size == raw["engine"]["batch_size"] and "batch_size" not in record.engine.model_extra
    assert record.validity.all_ok is raw["validity"]["all_ok"]
    assert set(record.validity.checks) == set(raw["validity"]) - {"all_ok"}


def test_schema_2_serving_records_get_their_concurrency_or_rate_as_fields(tmp_path):
    raw = json.loads((CPU_DEMO / "records.jsonl").read_text().splitlines()[0])
    raw |= {
        "mode": "serve",
        "completed": 8,
        "failed": 0,
        "engine": {**raw["engine"], "batch_size": 4},
        "load": {"model": "closed-loop concurrency", "concurrency": 4, "request_rate": None, "num_requests": 8},
    }
    rate = raw | {
        "engine": {**raw["engine"], "batch_size": None},
        "load": {"model": "open-loop Poisson", "concurrency": None, "request_rate": 2.5, "num_requests": 8},
    }
    (tmp_path / "records.jsonl").write_text(json.dumps(raw) + "\n" + json.dumps(rate) + "\n")
    closed, opened = read_records(tmp_path)
    assert (closed.concurrency, closed.request_rate, closed.batch_size) == (4, None, None)
    assert (opened.concurrency, opened.request_rate) == (None, 2.5)
    assert closed.requests_completed == 8 and closed.requests_failed == 0
    assert "batch_size" not in closed.engine.model_extra and closed.load.num_requests == 8


def test_schema_3_records_get_the_precision_tokencost_then_ran_in(tmp_path):
    raw = json.loads((CPU_DEMO / "records.jsonl").read_text().splitlines()[0])
    v3 = raw | {"schema_version": 3, "engine": {**raw["engine"], "dtype": "bfloat16"}, "batch_size": 1}
    v3["engine"].pop("batch_size", None)
    v3["validity"] = {"checks": {}, "all_ok": True}
    imported = v3 | {"source": {"file": "result.json", "tool": "vllm bench serve"}}
    failed = v3 | {"engine": {"name": "vllm"}}  # a point that failed before its engine described itself
    (tmp_path / "records.jsonl").write_text("\n".join(json.dumps(r) for r in (v3, imported, failed)) + "\n")
    ran, other, unknown = read_records(tmp_path)
    assert (ran.precision.weights, ran.precision.kv_cache) == ("bf16", "bf16") and "schema 3" in ran.precision.note
    assert other.precision is None and unknown.precision is None  # nothing says what these ran in


def test_a_malformed_old_record_is_a_user_error(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps({"schema_version": 1, "energy": "lots"}) + "\n")
    with pytest.raises(UserError, match="records.jsonl:1: a schema 1 record that cannot be migrated"):
        read_records(tmp_path)


@pytest.mark.parametrize("version", [99, 0, "2", None, True])
def test_unknown_schema_versions_are_refused(tmp_path, version):
    (tmp_path / "records.jsonl").write_text(json.dumps({"schema_version": version}) + "\n")
    with pytest.raises(UserError, match=r"schema_version: (99 is newer than this tokencost reads|is .*, not a schema)"):
        read_records(tmp_path)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"output_tok_s": "100"}, "output_tok_s: is '100'"),  # a number written as text
        ({"duration_s": None}, "an ok point needs duration_s"),
        ({"energy": {"method": "estimated"}}, "energy.boundary: is missing"),
        ({"batch_size": 2.5}, "batch_size: is 2.5"),
        ({"surprise": 1}, "surprise: is not a setting"),
    ],
)
def test_a_damaged_record_names_its_line_and_field(tmp_path, change, field):
    record = point_record().to_json() | change
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(UserError, match="records.jsonl:1") as error:
        read_records(tmp_path)
    assert field in str(error.value) and "\n" not in str(error.value)


def test_nan_is_a_damaged_record_not_a_number(tmp_path):
    (tmp_path / "records.jsonl").write_text(
        json.dumps(point_record().to_json() | {"output_tok_s": float("nan")}) + "\n"
    )
    with pytest.raises(UserError, match="records.jsonl:1 output_tok_s: is nan"):
        read_records(tmp_path)


def test_a_directory_or_missing_records_file_is_a_user_error(tmp_path):
    (tmp_path / "records.jsonl").mkdir()
    with pytest.raises(UserError, match="records.jsonl: cannot be read"):
        read_records(tmp_path / "records.jsonl")
    with pytest.raises(UserError, match="cannot be read"):
        read_records(tmp_path / "nowhere")


def test_secrets_never_reach_a_record(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefSECRET123")
    RecordWriter(tmp_path).append(
        point_record(
            error_class="token hf_abcdefSECRET123",
            status="failed",
            error="https://user:pa55word@api.example.test/v1?api_key=sk-live-999&x=1",
        )
    )
    text = (tmp_path / "records.jsonl").read_text()
    for secret in ("hf_abcdefSECRET123", "pa55word", "sk-live-999"):
        assert secret not in text
    assert "https://[redacted]@api.example.test/v1?api_key=[redacted]&x=1" in text


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["schema_version", "point", "status", "energy", "batch_size", "engine"]),
                    st.one_of(st.integers(-2, 5), st.text(max_size=5), st.none(), st.floats()),
                    max_size=5,
                ),
            ),
        ),
        max_size=5,
    )
)
def test_any_records_file_either_reads_or_is_a_user_error(tmp_path, lines):
    (tmp_path / "records.jsonl").write_text("\n".join(lines))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TornRecordWarning)
            read_records(tmp_path)
    except UserError as e:
        assert "\n" not in str(e)


def _line(record) -> bytes:
    return (json.dumps(record.to_json()) + "\n").encode()


def _reads_without_warning(run_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn line left in place would warn
        return read_records(run_dir)


def _reports(run_dir, out) -> bool:
    from tokencost.cli.main import main

    return main(["report", str(run_dir), "-o", str(out)]) == 0


@pytest.mark.parametrize("newline", [b"", b"\n"], ids=["cut-short", "then-a-newline"])
def test_a_torn_last_line_is_moved_aside_before_the_next_append(tmp_path, newline, caplog):
    run_dir = tmp_path / "run"
    first, second, third = point_record(batch=1), point_record(batch=2), point_record(batch=4)
    write_run(run_dir, first, second)
    fragment = _line(third)[:37] + newline  # a crash (or a full disk) part-way through a record
    with (run_dir / "records.jsonl").open("ab") as f:
        f.write(fragment)

    caplog.set_level(logging.INFO)
    RecordWriter(run_dir).append(third)
    logged = caplog.messages

    (aside,) = run_dir.glob("records.jsonl.torn-*")
    assert aside.read_bytes() == fragment  # moved, byte for byte
    assert (run_dir / "records.jsonl").read_bytes() == _line(first) + _line(second) + _line(third)
    assert _reads_without_warning(run_dir) == [first, second, third]
    assert len(logged) == 1 and "torn" in logged[0] and aside.name in logged[0] and "\n" not in logged[0]
    assert _reports(run_dir, tmp_path / "report")


def test_a_whole_last_record_that_lost_only_its_newline_keeps_its_place(tmp_path, caplog):
    first, second = point_record(batch=1), point_record(batch=2)
    (tmp_path / "records.jsonl").write_bytes(_line(first) + _line(second)[:-1])
    caplog.set_level(logging.INFO)
    RecordWriter(tmp_path).append(point_record(batch=4))
    logged = caplog.messages
    assert not list(tmp_path.glob("*.torn-*")) and len(logged) == 1
    assert [r.batch_size for r in _reads_without_warning(tmp_path)] == [1, 2, 4]


def test_a_sound_file_or_damage_above_the_last_line_is_left_as_it_is(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    good = _line(point_record())
    for text in (b"", good + good, good + b"\n", good + b"not json\n" + good):
        (tmp_path / "records.jsonl").write_bytes(text)
        caplog.clear()
        RecordWriter(tmp_path)
        assert (tmp_path / "records.jsonl").read_bytes() == text and caplog.messages == []
    with pytest.raises(UserError, match="records.jsonl:2: is not a JSON record"):  # read_records names that line
        read_records(tmp_path)
    assert not list(tmp_path.glob("*.torn-*"))


@settings(max_examples=examples(200), deadline=None)
@given(
    st.binary(max_size=300)
    | st.lists(st.sampled_from(['{"a": 1}', '{"a', "", " ", "[1]", "{}"])).map(lambda lines: "\n".join(lines).encode())
)
def test_setting_a_tail_aside_never_loses_a_byte_and_the_next_record_is_a_line_of_its_own(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.jsonl"
        path.write_bytes(data)
        aside = set_aside_torn_tail(path)
        kept, moved = path.read_bytes(), aside.read_bytes() if aside else b""
        assert kept + moved in (data, data + b"\n")  # nothing lost; at most a whole record's newline added
        RecordWriter(folder).append(point_record())
        assert path.read_bytes() == kept + _line(point_record())


def test_a_torn_write_then_resume_measures_each_missing_point_once(tmp_path, monkeypatch, caplog):
    from bench import environment, offline
    from bench.inputs.suite import Suite, with_overrides
    from bench.run import run as run_module
    from tests.support.fake_engine import measured_record

    class FakeEngine:
        name = "vllm"

        def describe(self):
            return {"name": self.name, "mode": "offline", "version": "fake"}

        def close(self):
            pass

    measured = []

    def measure(self, engine, card, key, batch_size):
        measured.append(batch_size)
        return measured_record(self.run, engine, card, key, num_requests=2, output_tok_s=0.8, total_tok_s=2.4)

    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.0, "gpu": 0.0})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", lambda *args: FakeEngine())
    monkeypatch.setattr(offline.PointMeasurement, "measure", measure)
    suite = with_overrides(Suite(), models=["tiny-dense"], batch_sizes=[1, 4, 16], engines=["vllm"], isl=16, osl=8)
    run_dir = tmp_path / "run"
    offline.run_sweep(suite, run_dir)
    path = run_dir / "records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    fragment = lines[1][: len(lines[1]) // 2]
    path.write_bytes(lines[0] + fragment)  # killed while writing the second point's record

    measured.clear()
    caplog.set_level(logging.INFO)
    offline.run_sweep(suite, run_dir, resume=True)
    logged = caplog.messages

    assert measured == [4, 16]  # the torn point is measured again, the complete one is not
    (aside,) = run_dir.glob("records.jsonl.torn-*")
    assert aside.read_bytes() == fragment
    assert any(aside.name in line for line in logged)
    records = _reads_without_warning(run_dir)
    assert [(r.batch_size, r.status) for r in records] == [(1, "ok"), (4, "ok"), (16, "ok")]
    assert path.read_bytes().startswith(lines[0])  # the record before the tear, untouched
    assert _reports(run_dir, tmp_path / "report")


@pytest.mark.parametrize(
    "version, message",
    [
        ("3", "schema_version: is '3', not a schema version; give a whole number from 1 to"),
        (True, "schema_version: is True, not a schema version"),
        (0, "schema_version: is 0, not a schema version"),
        (99, "schema_version: 99 is newer than this tokencost reads (1 to 4); upgrade tokencost"),
    ],
)
def test_a_schema_version_that_is_not_one_is_not_told_to_upgrade(tmp_path, version, message):
    from tests.support.records_factory import point_record

    record = point_record().to_json() | {"schema_version": version}
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(UserError, match=re.escape(message)):
        read_records(tmp_path)
