"""Peer benchmark tools (AIPerf, GuideLLM), each in a virtual environment of its own.

Their dependencies clash with vLLM's pins, so each tool lives in `.venv-peers/<name>` at the repository
root, built once: `python -m venv`, then pip with exact pins. GuideLLM needs PyTorch; left alone, pip
would take a CUDA build of several GB, so it gets the CPU build 2.13.0 that vLLM's CPU build uses.
A stamp file records what was installed (later calls return at once); a file lock keeps two processes
from building the same environment together.

    python -m bench.overhead.peer_tools [aiperf] [guidellm]
"""

import fcntl
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / ".venv-peers"
# What pip installs for each tool, exactly; and the command that shows the tool runs.
REQUIREMENTS = {
    "aiperf": ["aiperf==0.13.0"],
    "guidellm": ["torch==2.13.0", "guidellm==0.8.1"],
}
CHECK = {"aiperf": ["aiperf", "--version"], "guidellm": ["guidellm", "--version"]}
STAMP = ".tokencost-stamp"
INSTALL_TIMEOUT_S = 1800


def ensure_tool(name: str) -> Path:
    """The bin directory of the tool's own environment, built first if it is not there yet."""
    if name not in REQUIREMENTS:
        raise UserError("tool", f"{name!r} is not a peer tool", f"give one of {', '.join(REQUIREMENTS)}")
    venv = PEERS / name
    stamp = "\n".join(REQUIREMENTS[name]) + "\n"
    if _stamped(venv, stamp):
        return venv / "bin"
    PEERS.mkdir(exist_ok=True)
    with open(PEERS / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process dies
        if not _stamped(venv, stamp):  # another process may have built it while this one waited
            _build(name, venv, stamp)
    return venv / "bin"


def _stamped(venv: Path, stamp: str) -> bool:
    try:
        return (venv / STAMP).read_text() == stamp
    except OSError:
        return False


def _build(name: str, venv: Path, stamp: str) -> None:
    started = time.monotonic()
    print(
        f"peer tools: building {venv.relative_to(ROOT)} with {' '.join(REQUIREMENTS[name])} (once; a few minutes)",
        flush=True,
    )
    if venv.exists():
        shutil.rmtree(venv)  # a half-built environment from an interrupted build
    _run(name, [sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run(name, [*pip, *REQUIREMENTS[name]])
    command = [str(venv / "bin" / CHECK[name][0]), *CHECK[name][1:]]
    version = _run(name, command).strip().splitlines()
    (venv / STAMP).write_text(stamp)
    size_mb = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    print(
        f"peer tools: {name} ready ({version[-1] if version else 'no version printed'}) in "
        f"{time.monotonic() - started:.0f} s, {size_mb:,.0f} MB on disk",
        flush=True,
    )


def _run(name: str, command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise UserError(
            f"peer tool {name}",
            f"`{' '.join(command[-3:])}` ran past {INSTALL_TIMEOUT_S} s",
            "check the package index can be reached, then retry",
        ) from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(
            f"peer tool {name}",
            f"`{' '.join(command[-3:])}` failed ({last[-1][:200] if last else f'exit {done.returncode}'})",
            f"fix the cause, then retry; `rm -r {PEERS.name}/{name}` starts afresh",
        )
    return done.stdout


def main(argv=None) -> int:
    names = (sys.argv[1:] if argv is None else argv) or list(REQUIREMENTS)
    try:
        for name in names:
            print(f"{name}: {ensure_tool(name)}")
    except UserError as e:
        print(f"peer_tools: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
