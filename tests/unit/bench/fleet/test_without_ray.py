"""Ray is an optional extra: without it a one-machine run is unchanged, and --ray-address says how to get it."""

import subprocess
import sys

import pytest

# Each test runs the command line in a fresh interpreter, the only place where "Ray was never imported" holds.
pytestmark = pytest.mark.subprocess

WITHOUT_RAY = """
import importlib.abc, sys

class NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError(f"No module named {name!r} (not installed here)", name=name)

sys.meta_path.insert(0, NoRay())
from tokencost.cli.main import main
code = main(sys.argv[1:])
print("RAY LOADED", sorted(m for m in sys.modules if m.split(".")[0] == "ray"))
sys.exit(code)
"""


def run_without_ray(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_RAY, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_ray_address_without_ray_is_one_line_and_creates_nothing(tmp_path):
    out = tmp_path / "run"
    result = run_without_ray("run", "--ray-address", "10.0.0.1:6379", "--out", out, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tokencost: error: --ray-address: needs Ray, which is not installed; install tokencost-bench[ray] "
        "(pip install 'tokencost-bench[ray]')"
    ]
    assert not out.exists()


def test_a_one_machine_run_never_imports_ray(tmp_path):
    result = run_without_ray("run", "--dry-run", "--models", "tiny-dense", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "RAY LOADED []" in result.stdout
