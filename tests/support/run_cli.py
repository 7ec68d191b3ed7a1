"""Run the installed `tokencost` console script as a user would: a real subprocess."""

import signal
import subprocess
import sys
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


def start_tokencost(*args, env=None) -> subprocess.Popen:
    """Start it in its own session, with Ctrl-C at its default even where the tests were started in the
    background (a shell without job control starts those with SIGINT ignored, and children inherit that)."""
    _allowed()
    return subprocess.Popen(
        [TOKENCOST, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
