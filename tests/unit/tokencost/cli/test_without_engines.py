"""Dependencies declared honestly: pricing needs neither vLLM nor torch, and every import is a declared one.

A laptop that prices published runs installs `pip install tokencost` without the cpu or cuda extra. These
tests run the pricing commands in a fresh interpreter where importing vllm, torch or transformers fails,
and check every third-party import in the code against pyproject.toml's dependencies.
"""

import ast
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import CPU_DEMO
from tests.support import FIXTURES, REPO

ENGINE_MODULES = ("vllm", "torch", "transformers", "tokenizers")  # from the cpu or cuda extra, imported lazily
OPTIONAL_MODULES = {"ray": "ray"}  # module -> the extra declaring it; imported only when asked for

WITHOUT_ENGINES = f"""
import importlib.abc, sys

class NoEngines(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ENGINE_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed here)", name=name)

sys.meta_path.insert(0, NoEngines())
from tokencost.cli.main import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {ENGINE_MODULES!r})
print("ENGINE MODULES LOADED", loaded)
sys.exit(code)
"""


def commands(tmp_path: Path) -> dict[str, list]:
    serve_demo = REPO / "results" / "2026-11-28-cpu-serve-demo"
    return {
        "price": ["price", CPU_DEMO, "--csv", tmp_path / "costs.csv"],
        "price vllm bench": ["price", FIXTURES / "vllm-bench-serve" / "tiny-dense-conc16.json", "--gpu", "h100-sxm"],
        "quote": ["quote", "--gpu", "h100-sxm", "--tok-s", "1000"],
        "report": ["report", CPU_DEMO, serve_demo, "-o", tmp_path / "report"],
        "compare": ["compare", CPU_DEMO, CPU_DEMO],
        "project": ["project", "--model", "qwen3-30b-a3b", "--gpu", "h200"],
        "claims": ["claims", CPU_DEMO, "-o", tmp_path / "claims"],
        "presets": ["presets"],
        "models": ["models"],
    }


@pytest.mark.subprocess  # a fresh interpreter: only there is "nothing of the engines imported" true or false
@pytest.mark.parametrize("name", list(commands(Path("."))))
def test_pricing_commands_run_without_vllm_or_torch(tmp_path, name):
    args = commands(tmp_path)[name]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_ENGINES, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ENGINE MODULES LOADED []" in result.stdout


@pytest.mark.subprocess
def test_the_blocker_blocks():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_ENGINES.replace("from tokencost.cli.main import main", "import torch")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "No module named 'torch' (not installed here)" in result.stderr


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_is_a_declared_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(spec) for spec in project["dependencies"]}
    for module, extra in OPTIONAL_MODULES.items():
        assert module in {_name(spec).split("[")[0] for spec in project["optional-dependencies"][extra]}
    declared |= set(OPTIONAL_MODULES)
    distributions = metadata.packages_distributions()
    undeclared = {}
    for path in [*REPO.glob("bench/**/*.py"), *REPO.glob("tokencost/**/*.py")]:
        for module in _imports(path) - set(sys.stdlib_module_names) - {"bench", "tokencost", *ENGINE_MODULES}:
            owners = {_name(d) for d in distributions.get(module, [module])}
            if not owners & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(REPO)))
    assert undeclared == {}


def _name(spec: str) -> str:
    """A requirement's distribution name, normalized (e.g. 'nvidia-ml-py>=12' -> 'nvidia-ml-py')."""
    for stop in "<>=![; ":
        spec = spec.split(stop)[0]
    return spec.strip().lower().replace("_", "-")
