"""The layout's one rule: bench measures and never prices."""

import ast
from pathlib import Path

import bench


def test_bench_never_imports_tokencost():
    offenders = []
    for path in Path(bench.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "tokencost"]
    assert offenders == []
