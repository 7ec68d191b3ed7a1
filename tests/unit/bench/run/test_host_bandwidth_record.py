"""A run's host-memory bandwidth: measured once before any engine, in run.json and in every record's hardware;
records written before it was measured still read, with the fields None."""

import json
import logging

from bench import environment, memory_bandwidth, offline
from bench.inputs.suite import load_suite, with_overrides
from bench.run import run as run_module
from bench.run.record import HardwareInfo
from bench.run.records import read_records
from bench.run.run import BANDWIDTH_FIELDS, host_memory_bandwidth
from tests.conftest import CPU_DEMO
from tests.support.fake_engine import FakeEngine, measured_record
from tests.support.records_factory import point_record, write_run

MEASURED = {
    "memory_bandwidth_gb_s": 26.2,
    "cache_bandwidth_gb_s": 91.4,
    "llc_bytes": 33554432,
    "bandwidth_threads": 2,
    "bandwidth_method": "numpy copy of host memory in 2 threads; ...",
}
CPU = {"accelerator": "CPU (AMD EPYC)", "accelerator_count": 2, "cpu_model": "AMD EPYC", "gpus": []}


def test_the_fields_are_the_hardware_sections_and_the_probe_fills_them_all():
    assert set(BANDWIDTH_FIELDS) <= set(HardwareInfo.model_fields)
    found = memory_bandwidth.measure(repeats=1, budget_s=0.1)
    assert set(found.record_fields()) == set(BANDWIDTH_FIELDS)


def test_a_record_with_the_bandwidth_reads_back_the_same(tmp_path):
    record = point_record(hardware=CPU | MEASURED)
    write_run(tmp_path, record)
    assert read_records(tmp_path) == [record]
    line = json.loads((tmp_path / "records.jsonl").read_text())
    assert {k: line["hardware"][k] for k in BANDWIDTH_FIELDS} == MEASURED


def test_a_record_without_it_reads_with_none_and_writes_none_of_the_fields(tmp_path):
    write_run(tmp_path, point_record(hardware=CPU))
    assert not set(BANDWIDTH_FIELDS) & set(json.loads((tmp_path / "records.jsonl").read_text())["hardware"])
    hardware = read_records(tmp_path)[0].hardware
    assert [getattr(hardware, k) for k in BANDWIDTH_FIELDS] == [None] * len(BANDWIDTH_FIELDS)


def test_records_of_an_older_schema_still_read():
    records = read_records(CPU_DEMO)  # schema 2, written before the probe
    assert records and all(
        r.hardware.memory_bandwidth_gb_s is None and r.hardware.bandwidth_method is None for r in records
    )


def test_a_run_measures_it_once_before_any_engine_and_every_record_carries_it(tmp_path, monkeypatch, caplog):
    events = []
    real_measure = memory_bandwidth.measure

    def measure(*args, **kwargs):
        events.append("probe")
        return real_measure(*args, **kwargs)

    def start_engine(*args):
        events.append("engine")
        return FakeEngine()

    def measure_point(self, engine, card, key, batch_size):
        return measured_record(self.run, engine, card, key)

    monkeypatch.setattr(memory_bandwidth, "measure", measure)
    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.05, "gpu": 0.05})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", start_engine)
    monkeypatch.setattr(offline.PointMeasurement, "measure", measure_point)
    suite = with_overrides(
        load_suite(None), models=["tiny-dense", "tiny-moe"], batch_sizes=[1, 4], engines=["vllm"], isl=16, osl=8
    )
    caplog.set_level(logging.INFO)
    offline.run_sweep(suite, tmp_path / "run")
    logged = caplog.messages

    assert events == ["probe", "engine", "engine"]
    stored = json.loads((tmp_path / "run" / "run.json").read_text())["hardware"]
    assert stored["memory_bandwidth_gb_s"] > 0 and stored["bandwidth_threads"] == memory_bandwidth.usable_cpus()
    assert stored["bandwidth_method"].startswith("numpy copy of host memory in ")
    records = read_records(tmp_path / "run")
    assert len(records) == 4
    assert all(
        {k: getattr(r.hardware, k) for k in BANDWIDTH_FIELDS} == {k: stored[k] for k in BANDWIDTH_FIELDS}
        for r in records
    )
    assert any(line.startswith("memory bandwidth: host DRAM ") for line in logged)


def test_a_resumed_run_keeps_the_figures_its_run_json_holds(monkeypatch):
    def measure_again():
        raise AssertionError("measured again")

    monkeypatch.setattr(memory_bandwidth, "measure", measure_again)
    assert host_memory_bandwidth({"hardware": CPU | MEASURED}) == MEASURED


def test_a_resumed_run_started_before_the_probe_measures_now(caplog):
    caplog.set_level(logging.INFO)
    fields = host_memory_bandwidth({"hardware": CPU})
    logged = caplog.messages
    assert fields["memory_bandwidth_gb_s"] > 0 and logged[0].startswith("memory bandwidth: host DRAM ")


def test_a_run_on_a_busy_machine_logs_a_warning_beside_the_figure(monkeypatch, caplog):
    busy = memory_bandwidth.MemoryBandwidth(
        0.52, None, None, 2, 2**30, None, "numpy copy", (0.5, 0.1, 0.52), (), 6.5, 2
    )
    monkeypatch.setattr(memory_bandwidth, "measure", lambda: busy)
    caplog.set_level(logging.INFO)
    assert host_memory_bandwidth(None)["memory_bandwidth_gb_s"] == 0.52
    logged = " ".join(caplog.messages)
    assert "memory bandwidth: host DRAM 0.5 GB/s" in logged
    assert "WARNING: the machine is busy: the DRAM repeats spread 84%" in logged
