"""A deadline of our own on an offline engine's start and on each generation of a point.

vLLM bounds neither (0.32, the CUDA build's sources): `wait_for_engine_startup` polls for READY with no
deadline (vllm/v1/engine/utils.py, the `while any(conn_pending) or any(start_pending)` loop), and
VLLM_ENGINE_READY_TIMEOUT_S applies only after READY; `SyncMPClient.get_output()` is `outputs_queue.get()` with
no timeout, so a step that hangs in a live engine core blocks `LLM.llm_engine.step()` forever. Worse, if the
engine core dies, its monitor thread shuts the output thread down without putting anything in that queue, so
ending the engine core alone does not wake the step either.

So when the deadline passes, the watchdog's thread (1) ends every process the engine started since the
watchdog was armed, each one's whole process group where it leads one, and (2) interrupts the main thread with
SIGALRM, whose handler raises an exception vLLM does not catch. Leaving the `with` block, that becomes
`EngineHung` with the reason given: the point (or start) is recorded failed and the sweep goes on.
"""

import contextlib
import os
import signal
import threading
import time
from types import FrameType, TracebackType

import psutil

from bench.errors import EngineHung

GRACE_S = 10.0  # for SIGTERM before SIGKILL


class _Deadline(BaseException):
    """Raised in the main thread by the watchdog's signal; a BaseException so that vLLM's `except Exception` lets
    it through."""


class Watchdog:
    """`with Watchdog(seconds, reason):` bounds the block; past `seconds` the engine's processes are ended and the
    block leaves with EngineHung(reason). `seconds` None: no bound."""

    def __init__(self, seconds: float | None, reason: str) -> None:
        self.seconds, self.reason = seconds, reason
        self.fired = False
        self._me = psutil.Process()
        self._before: set[int] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._leaving = False
        self._previous_handler: signal.Handlers | object | None = None
        self._interrupts = threading.current_thread() is threading.main_thread()  # only there can a signal raise

    def __enter__(self) -> "Watchdog":
        if self.seconds is None:
            return self
        self._before = {p.pid for p in self._me.children(recursive=True)}
        if self._interrupts:
            self._previous_handler = signal.signal(signal.SIGALRM, self._raise_deadline)
        self._thread = threading.Thread(target=self._watch, name="engine-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._thread is None:
            return
        self._leaving = True  # a signal delivered from here on raises nothing
        with self._lock:
            self._done.set()
        self._thread.join()
        if self._interrupts:
            signal.signal(signal.SIGALRM, self._previous_handler)  # type: ignore[arg-type]
        if self.fired:
            raise EngineHung(self.reason) from (None if isinstance(error, _Deadline) else error)

    def _watch(self) -> None:
        assert self.seconds is not None
        if self._done.wait(self.seconds):
            return
        with self._lock:
            if self._done.is_set():
                return
            self.fired = True
        end_processes_since(self._me, self._before)
        if self._interrupts:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGALRM)

    def _raise_deadline(self, signum: int, frame: FrameType | None) -> None:
        if self.fired and not self._leaving:
            raise _Deadline(self.reason)


def end_processes_since(me: psutil.Process, before: set[int]) -> None:
    """End the processes started under `me` since `before` was taken (an engine core and its workers): each one's
    process group where it leads its own, else the process; SIGTERM, then SIGKILL after GRACE_S.

    Multiprocessing's resource tracker stays: it ignores SIGTERM, and ends with us once it has cleaned up.
    """
    started = [
        p
        for p in me.children(recursive=True)
        if p.pid not in before and not _cmdline_has(p, "multiprocessing.resource_tracker")
    ]
    own_group = os.getpgid(0)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in started:
            with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
                group = os.getpgid(p.pid)
                if group == p.pid and group != own_group:
                    os.killpg(group, sig)
                else:
                    os.kill(p.pid, sig)
        if sig == signal.SIGTERM:
            started = _still_running(started, GRACE_S)


def _still_running(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of `processes` still running after up to `timeout_s`. A zombie counts as ended: a grandchild whose
    parent died waits for init to reap it, which some containers' init never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = [p for p in processes if _running(p)]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline_has(process: psutil.Process, text: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return text in " ".join(process.cmdline())
    return False
