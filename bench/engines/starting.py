"""Starting an engine so that Ctrl-C or SIGTERM during the start ends it at once, leaving no process of it.

vLLM's engine launch swallows a KeyboardInterrupt (in 0.32, vllm.utils.network_utils.zmq_socket_ctx catches
it), then waits, with no deadline of its own, for an engine core that can no longer answer (a start that
hangs is bounded by bench.engines.watchdog). So during the start our signal handlers raise an exception vLLM lets
through (its own cleanup runs on the way out); it leaves `interruptible_start` as the KeyboardInterrupt it
stands for, after the processes the start launched are ended.
"""

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

import psutil

from bench.engines.watchdog import end_processes_since

T = TypeVar("T")


class StartInterrupted(BaseException):
    """A KeyboardInterrupt in disguise, which vLLM's start does not catch."""


def interruptible_start(start: Callable[[], T]) -> T:
    """`start()`, with Ctrl-C and SIGTERM (as the CLI turns them into KeyboardInterrupt) reaching through it."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    try:
        with _handlers_raising_through():
            return start()
    except (KeyboardInterrupt, StartInterrupted) as e:
        end_processes_since(me, before)
        raise KeyboardInterrupt(*e.args) from None


@contextlib.contextmanager
def _handlers_raising_through():
    """Python-level SIGINT/SIGTERM handlers that raise StartInterrupted where they raised KeyboardInterrupt."""
    handlers = {}
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        handlers = {sig: h for sig in (signal.SIGINT, signal.SIGTERM) if callable(h := signal.getsignal(sig))}
    try:
        for sig, handler in handlers.items():
            signal.signal(sig, _raising_through(handler))
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _raising_through(handler):
    def handle(signum, frame):
        try:
            handler(signum, frame)
        except KeyboardInterrupt as e:
            raise StartInterrupted(*e.args) from None

    return handle
