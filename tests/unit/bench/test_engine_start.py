"""Ctrl-C during an engine start that swallows it (as vLLM 0.32's does) still stops the start and its processes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from bench.engines.starting import interruptible_start


@pytest.fixture
def ctrl_c_raises():
    """Python's own Ctrl-C handler, as in a terminal (a shell without job control starts jobs with it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_reaches_through_a_start_that_swallows_it_and_ends_what_the_start_launched(ctrl_c_raises):
    launched = []
    handler = signal.getsignal(signal.SIGINT)

    def start():
        launched.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass  # what vllm.utils.network_utils.zmq_socket_ctx does
        return "started anyway"

    with pytest.raises(KeyboardInterrupt):
        interruptible_start(start)
    assert launched[0].wait(timeout=15) is not None  # ended, not left running
    assert signal.getsignal(signal.SIGINT) is handler  # our handlers are back


def test_a_start_that_is_not_interrupted_returns_its_engine():
    assert interruptible_start(lambda: "engine") == "engine"
