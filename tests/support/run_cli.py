"""Run the installed `tokencost` console script as a user would: a real subprocess."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

TOKENCOST = str(Path(sys.executable).parent / "tokencost")
ALLOWED = True  # tests/conftest.py turns it off during a test not marked `subprocess`


def _allowed() -> None:
    if not ALLOWED:
        raise AssertionError("this test starts the tokencost process: mark it `subprocess` (see tests/conftest.py)")


def tokencost(*args, env=None, timeout=900, cwd=None) -> subprocess.CompletedProcess:
    _allowed()
    return subprocess.run(
        [TOKENCOST, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
    )


class StartedTokencost(subprocess.Popen):
    """A running `tokencost` whose stdout and stderr go to files, not pipes: a pipe that nobody reads fills at
    64 KiB of engine logs and blocks the run in the middle of a log line, where a signal then lands outside
    any point."""

    def __init__(self, argv: list[str], **options):
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        super().__init__(argv, stdout=self._out, stderr=self._err, **options)

    def stderr_text(self) -> str:
        return _read_all(self._err)

    def communicate(self, input=None, timeout=None) -> tuple[str, str]:
        """Wait for the process (at most `timeout` s) and return everything it wrote, as text."""
        self.wait(timeout)
        return _read_all(self._out), _read_all(self._err)


def _read_all(file) -> str:
    file.flush()
    return os.pread(file.fileno(), os.fstat(file.fileno()).st_size, 0).decode(errors="replace")


def start_tokencost(*args, env=None) -> StartedTokencost:
    """Start it in its own session, with Ctrl-C at its default even where the tests were started in the
    background (a shell without job control starts those with SIGINT ignored, and children inherit that)."""
    _allowed()
    return StartedTokencost(
        [TOKENCOST, *map(str, args)],
        env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
