"""The command line run in this process: `tokencost.cli.main.main(argv)`, with what a user's shell would see.

It answers like `tests.support.run_cli.tokencost` (a `CompletedProcess`: returncode, stdout, stderr), without
starting an interpreter: a unit test of what the command prints and returns needs no process of its own. What
the process itself does (the console script, signals, exit codes through the shell, what gets imported) is
tested through `run_cli`, in the subprocess tier.

Like a child process, each call sees its own environment (`env`), working directory (`cwd`) and signal
handlers, and leaves the test's as they were. Not for threads: stdout, the environment and the working
directory belong to the whole process.
"""

import contextlib
import io
import os
import signal
import subprocess
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _as_a_child(env: dict | None, cwd: str | Path | None):
    environ, here, handlers = dict(os.environ), os.getcwd(), {s: signal.getsignal(s) for s in SIGNALS}
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(environ)
        for s, handler in handlers.items():
            signal.signal(s, handler)


def tokencost(*args, env: dict | None = None, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Exit code, stdout and stderr of `tokencost ARGS` run by `main` here."""
    from bench.secrets import forget_all
    from tokencost.cli.main import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with _as_a_child(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: --help, or a value refused before any command runs
            code = e.code
        finally:
            forget_all()  # a secret the command learned (an endpoint's key) dies with its process
    if code is None:
        code = 0
    return subprocess.CompletedProcess(["tokencost", *argv], code, out.getvalue(), err.getvalue())
