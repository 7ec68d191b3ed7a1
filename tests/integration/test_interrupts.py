"""Ctrl-C and SIGTERM while vLLM starts, through the CLI: exit 130 at once, and no process of the start left.

vLLM's server runs in a session of its own, so no signal sent to tokencost reaches it; vLLM's offline engine
launch swallows a KeyboardInterrupt. Both used to outlive or outwait the interrupt.
"""

import os
import signal
import time

import psutil
import pytest

from bench.run.records import read_records
from tests.integration.test_serve_vllm import assert_gone, session_processes
from tests.support.run_cli import start_tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(600)]

SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


def _child(process, text: str, timeout: float = 300) -> psutil.Process:
    """The first descendant of the tokencost process whose command line holds `text`, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr_text()[-3000:]
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if text in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no process running {text} within {timeout} s")


def _interrupt(process, sig) -> str:
    """Send `sig` to tokencost alone (not its process group) and return its stderr once it has exited 130."""
    process.send_signal(sig)
    started = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # it hung: end its session rather than leave it to the next test
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr
    assert time.monotonic() - started < 90  # at once, not after vLLM's start timeout
    return stderr


def _no_engine_start_failure(run_dir) -> None:
    """The interrupt is not mistaken for an engine that could not start."""
    if (run_dir / "records.jsonl").exists():
        assert all(r.failure != "engine-start" for r in read_records(run_dir))


@pytest.mark.parametrize("sig", SIGNALS)
def test_an_interrupt_while_the_server_starts_stops_the_server(tmp_path, sig):
    run_dir = tmp_path / "run"
    process = start_tokencost(
        "run", "--mode", "serve", "--models", "tiny-dense", "--concurrency", "1", "--out", run_dir
    )
    server = _child(process, "vllm.entrypoints.openai.api_server")
    assert server.pid == os.getsid(server.pid)  # its own session: our signal never reaches it
    time.sleep(2)  # well inside its start (about a minute here)
    assert (run_dir / "server-tiny-dense.log").exists() and session_processes(server.pid)
    _interrupt(process, sig)
    assert_gone(server.pid)
    _no_engine_start_failure(run_dir)


@pytest.mark.parametrize("sig", SIGNALS)
def test_an_interrupt_while_the_offline_engine_starts_leaves_no_engine_process(tmp_path, sig):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'engines = ["vllm"]\nmodels = ["tiny-dense"]\nbatch_sizes = [1]\nmin_window_s = 0\n'
        "[workload]\nisl = 16\nosl = 8\n[engine]\nenforce_eager = true\n"
    )
    run_dir = tmp_path / "run"
    process = start_tokencost("run", "--suite", suite, "--out", run_dir)
    _child(process, "multiprocessing.spawn")  # vLLM's engine core, spawned by LLM(...) in tokencost itself
    time.sleep(2)  # inside vLLM's engine launch, which used to swallow the KeyboardInterrupt
    _interrupt(process, sig)
    assert_gone(process.pid)  # tokencost leads its session: that is every process it started
    _no_engine_start_failure(run_dir)
