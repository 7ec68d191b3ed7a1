"""Our own deadlines on an offline engine's start and steps, against a stand-in engine core that hangs."""

import threading
import time

import psutil
import pytest

from bench import environment, offline
from bench.engines.watchdog import Watchdog
from bench.errors import EngineHung
from bench.inputs.suite import Suite, with_overrides, with_settings
from bench.run import run as run_module
from bench.run.records import read_records
from tests.support.fake_engine import BlockingEngine


def leftovers() -> list[psutil.Process]:
    """Processes of a stand-in engine core (or its worker) still running."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if BlockingEngine.MARK in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.0, "gpu": 0.0})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "engine_class", lambda name: BlockingEngine)
    monkeypatch.setattr(offline, "HUNG_STEP_GRACE_S", 0.5)
    yield BlockingEngine
    for p in leftovers():  # a failing test leaves nothing running
        p.kill()


def test_a_hung_start_and_a_hung_step_are_ended_recorded_failed_and_the_sweep_goes_on(tmp_path, monkeypatch, stand_in):
    monkeypatch.setattr(stand_in, "HANG_AT_START", ("tiny-dense",))
    suite = with_overrides(
        Suite(), models=["tiny-dense", "tiny-moe"], batch_sizes=[1, 2], engines=["vllm"], isl=16, osl=8
    )
    suite = with_settings(suite, {"point_timeout_s": 1.0, "warmup": False, "engine.startup_timeout_s": 1.0})
    started = time.monotonic()
    result = offline.run_sweep(suite, tmp_path / "run")

    assert time.monotonic() - started < 30  # both hangs bounded (1 s and 1.5 s, then at most 10 s for SIGTERM)
    records = {r.point: r for r in read_records(tmp_path / "run")}
    assert [(r.model.name, r.batch_size, r.status, r.failure) for r in records.values()] == [
        ("tiny-dense", 1, "failed", "engine-start"),
        ("tiny-dense", 2, "failed", "engine-start"),
        ("tiny-moe", 1, "failed", "engine-hung"),
        ("tiny-moe", 2, "skipped", "engine-hung"),
    ]
    first, hung, skipped = (records[k] for k in list(records)[1:])
    assert "had not started after engine.startup_timeout_s = 1 s" in first.error
    assert "measured window was still in one engine step 0.5 s after point_timeout_s = 1 s" in hung.error
    assert skipped.error == "skipped: the engine hung at vllm batch 1 and was ended"
    assert len(result.start_errors) == 1
    assert not leftovers()  # each engine core's process group, its worker included, was ended


def test_a_block_that_ends_in_time_leaves_no_trace_and_keeps_the_signal_handler():
    import signal

    handler = signal.getsignal(signal.SIGALRM)
    with Watchdog(5.0, "never") as watchdog:
        time.sleep(0.05)
    assert not watchdog.fired
    assert signal.getsignal(signal.SIGALRM) is handler


def test_a_block_blocked_in_the_main_thread_leaves_as_engine_hung_even_if_nothing_wakes_it():
    import queue

    with pytest.raises(EngineHung, match="the step hung"), Watchdog(0.2, "the step hung"):
        queue.Queue().get()  # as vLLM's SyncMPClient.get_output() waits


def test_off_the_main_thread_the_watchdog_still_ends_the_engines_processes():
    import subprocess
    import sys

    outcome = []

    def start():
        try:
            with Watchdog(0.2, "no start"):
                core = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE)
                core.stdout.read()  # EOF once the watchdog ends the core
        except EngineHung as e:
            outcome.append(str(e))

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(timeout=30)
    assert outcome == ["no start"]
