"""Run the installed `tokencost` console script as a user would."""

import subprocess
import sys
from pathlib import Path

TOKENCOST = str(Path(sys.executable).parent / "tokencost")


def tokencost(*args, env=None, timeout=900, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TOKENCOST, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
    )
