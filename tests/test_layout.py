"""The layout's rules: each room imports only the rooms below it, and no module imports itself back.

Every import counts, including those inside functions (they are how heavy modules load lazily, and a
circle through them is still a circle).
"""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.support import REPO

PACKAGES = ("bench", "tokencost")

# Rooms from the top down: a module may import its own room and the rooms after it, never those before.
LAYERS = [
    # tokencost, which may import all of bench
    ["tokencost.cli"],
    ["tokencost.publish"],
    ["tokencost.gate", "tokencost.analysis"],
    ["tokencost.imports", "tokencost.pricing"],
    ["tokencost"],  # the package itself (its docstring)
    # bench, which never imports tokencost
    ["bench.overhead", "bench.gpu_smoke"],
    ["bench.fleet"],  # a suite fanned out over a Ray cluster, each node running the sweeps below
    ["bench.offline", "bench.serve"],
    ["bench.engines"],
    ["bench.run"],
    ["bench.inputs", "bench.energy"],
    ["bench.errors", "bench.secrets", "bench.validation", "bench.environment", "bench"],
]
# Rooms on one floor stay out of each other's way too.
APART = [
    ("tokencost.gate", "tokencost.analysis"),
    ("tokencost.imports", "tokencost.pricing"),
    ("bench.offline", "bench.serve"),
    ("bench.inputs", "bench.energy"),
    ("bench.overhead", "bench.gpu_smoke"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, anywhere in it (resolved to modules, not names inside them)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def room(module: str) -> str:
    """The longest room name the module is in."""
    rooms = [r for layer in LAYERS for r in layer]
    return max((r for r in rooms if module == r or module.startswith(r + ".")), key=len)


def floor(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if room(module) in layer)


GRAPH = {name: imports(path, set(modules())) - {name} for name, path in modules().items()}


def test_every_module_is_in_a_room():
    for name in GRAPH:
        assert room(name), name


def test_rooms_import_only_downwards():
    upward = sorted(
        f"{m} -> {i}"
        for m, targets in GRAPH.items()
        for i in targets
        if floor(i) < floor(m) and not i.startswith(m + ".")
    )
    assert upward == []


def test_rooms_on_one_floor_stay_apart():
    across = sorted(
        f"{m} -> {i}" for m, targets in GRAPH.items() for i in targets for a, b in APART if {room(m), room(i)} == {a, b}
    )
    assert across == []


def test_bench_never_imports_tokencost():
    assert (
        sorted(
            f"{m} -> {i}"
            for m, targets in GRAPH.items()
            if m.startswith("bench")
            for i in targets
            if i.startswith("tokencost")
        )
        == []
    )


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("tokencost.pricing", "tokencost.publish"),
        ("tokencost.analysis", "tokencost.publish"),
        ("bench.energy", "bench.engines"),
        ("bench.run", "bench.engines"),
    ],
)
def test_named_rules(lower, upper):
    assert [
        f"{m} -> {i}"
        for m, targets in GRAPH.items()
        if room(m).startswith(lower)
        for i in targets
        if room(i).startswith(upper)
    ] == []


def test_no_import_circles_even_through_function_level_imports():
    # a package's __init__ is imported by its own modules' imports; that edge is not a circle of ours
    graph = {m: {i for i in targets if not m.startswith(i + ".")} for m, targets in GRAPH.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        pytest.fail(f"import circle: {' -> '.join(e.args[1])}")


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    """The rules above would catch a violation: the import reader finds one inside a function."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from tokencost.publish.write import write_report\n")
    assert "tokencost.publish.write" in imports(planted, set(modules()))
    assert floor("tokencost.publish.write") < floor("tokencost.pricing.table")


def test_unit_tests_mirror_the_packages():
    """tests/unit/bench/... and tests/unit/tokencost/... mirror bench/ and tokencost/: a test's folder is the folder
    of the code it tests, so every folder there is a package folder, and no test module sits above the packages."""
    unit = REPO / "tests" / "unit"
    assert [p.name for p in unit.glob("test_*.py")] == []
    folders = [p for p in unit.rglob("*") if p.is_dir() and not p.name.startswith(("__", "."))]
    assert [
        str(p.relative_to(unit)) for p in folders if not (REPO / p.relative_to(unit) / "__init__.py").is_file()
    ] == []
