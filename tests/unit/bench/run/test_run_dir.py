"""A run directory's bookkeeping: new or resumed, how its run was measured, its run.json, and no trace left by a
refused run."""

import json

import pytest

from bench.errors import UserError
from bench.inputs.suite import Suite
from bench.run.records import RECORDS_FILE
from bench.run.run_dir import RUN_FILE, RunDirectory


def write_run(path, **extra):
    """A run.json of the default suite, with `extra` keys."""
    path.mkdir(parents=True, exist_ok=True)
    (path / RUN_FILE).write_text(json.dumps({"suite": Suite().to_record(), **extra}))


def test_a_new_run_refuses_a_directory_that_holds_one(tmp_path):
    write_run(tmp_path / "run")
    with pytest.raises(UserError) as e:
        RunDirectory(tmp_path / "run").check_new()
    assert str(e.value).startswith(f"--out: {tmp_path / 'run'} already holds a run; give a new directory")


def test_a_resumed_run_is_checked_against_its_run_json(tmp_path):
    write_run(tmp_path / "run", meter={"watts_per_vcpu": 5.0})
    folder = RunDirectory(tmp_path / "run", resume=True)
    assert folder.resumed_run(Suite(), fleet=False, watts_per_vcpu=5.0)["meter"] == {"watts_per_vcpu": 5.0}
    with pytest.raises(UserError, match=r"^--resume: the settings differ from the run's \(batch_sizes, models\)"):
        folder.resumed_run(Suite(models=("tiny-moe",), batch_sizes=(2,)), fleet=False)
    with pytest.raises(UserError, match=r"^--resume: --watts-per-vcpu 6.0 differs from the run's 5.0"):
        folder.resumed_run(Suite(), fleet=False, watts_per_vcpu=6.0)
    with pytest.raises(UserError, match=r"^--ray-address: .* was measured on one machine; resume it without"):
        folder.resumed_run(Suite(), fleet=True)


def test_a_fleet_run_resumes_on_a_cluster_only(tmp_path):
    write_run(tmp_path / "run", fleet={"address": "h:1"})
    folder = RunDirectory(tmp_path / "run", resume=True)
    folder.check_measured_by(fleet=True)
    with pytest.raises(UserError, match=r"^--resume: .* was measured by a fleet sweep on a Ray cluster; add"):
        folder.check_measured_by(fleet=False)


def test_no_readable_run_json_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(UserError, match=r"^--resume: .* has no readable run.json; give a directory written by"):
        RunDirectory(tmp_path / "run", resume=True).suite()
    (tmp_path / "run" / RUN_FILE).write_text("[]")
    with pytest.raises(UserError, match=r"is not a JSON object"):
        RunDirectory(tmp_path / "run", resume=True).read()


def test_a_directory_that_cannot_be_made_is_named_by_its_flag(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"^--out: .* cannot be a run directory \(.*\); give a directory this user"):
        RunDirectory(tmp_path / "file" / "run").create()


def test_a_refused_run_leaves_no_folder_it_made(tmp_path):
    folder = RunDirectory(tmp_path / "a" / "b")
    folder.create()
    folder.remove_if_untouched()
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_wrote_records_keeps_its_folder(tmp_path):
    folder = RunDirectory(tmp_path / "a" / "b")
    folder.create()
    (folder.path / RECORDS_FILE).write_text("{}\n")
    assert folder.wrote_records()
    folder.remove_if_untouched()
    assert (folder.path / RECORDS_FILE).is_file()


def test_a_resumption_is_noted_and_fills_missing_hardware_figures(tmp_path):
    write_run(tmp_path / "run", hardware={"accelerator": "cpu", "memory_bandwidth_gb_s": 10.0})
    folder = RunDirectory(tmp_path / "run", resume=True)
    folder.note_resumed("then", hardware={"memory_bandwidth_gb_s": 99.0, "llc_bytes": 8})
    run = folder.read()
    assert run["resumed_at"] == ["then"]
    assert run["hardware"] == {"accelerator": "cpu", "memory_bandwidth_gb_s": 10.0, "llc_bytes": 8}
