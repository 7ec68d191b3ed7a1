"""The README starts with the answer and stays short; docs/ holds the rest, built by MkDocs with no link left broken."""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
SUMMARY = REPO / "results" / "gpu-cost-table" / "summary.md"
EXPLORER = "results/gpu-cost-table/index.html"
BIN = Path(sys.executable).parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def readme_sections() -> list[str]:
    return re.findall(r"^## (.+)$", README.read_text(), flags=re.MULTILINE)


def test_the_readme_is_short_and_opens_on_the_answer():
    assert len(README.read_text().splitlines()) <= 300
    assert readme_sections()[:4] == [
        "The answer so far",
        "Quick start",
        "Price a result you already have",
        "Measure on a GPU host",
    ]


def test_the_quick_start_is_exactly_two_make_targets_that_exist():
    section = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.MULTILINE) and re.search(r"^test:", makefile, flags=re.MULTILINE)


def test_the_readmes_headline_figures_are_the_published_tables():
    """Each "$X (N GPUs, batch B)" the README quotes is a cell "$X (NxB" of summary.md: no figure goes stale."""
    answer = README.read_text().split("\n## Quick start\n", 1)[0]
    quoted = re.findall(r"\$(\d+\.\d+)[^|]*?\((\d+) GPUs?, batch (\d+)\)", answer)
    assert len(quoted) >= 10
    summary = SUMMARY.read_text()
    for usd, gpus, batch in quoted:
        assert f"${usd} ({gpus}x{batch}" in summary, (usd, gpus, batch)
    assert "projected" in answer and "measured by ML.ENERGY" in answer


def test_the_readme_links_to_the_explorer():
    assert f"({EXPLORER})" in README.read_text()


def test_every_relative_link_in_the_readme_resolves():
    for target in LINK.findall(README.read_text()):
        if target.startswith(("http://", "https://", "#")):
            continue
        path = target.split("#", 1)[0]
        # The explorer page is written by `tokencost gpu-table`; the one link allowed to wait for its publication.
        assert (REPO / path).exists() or path == EXPLORER, target


def test_the_nav_lists_every_page_once():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())

    def pages(entries) -> list[str]:
        found = []
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            found += pages(value) if isinstance(value, list) else [value]
        return found

    listed = pages(config["nav"])
    assert sorted(listed) == sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert len(listed) == len(set(listed))


def test_the_topic_pages_other_sessions_write_to_exist():
    for name in ("calibration", "gpu-host", "many-machines", "explorer"):
        assert (DOCS / f"{name}.md").is_file(), name


def test_the_layout_page_names_every_folder():
    """Every folder the repository tracks at the top and in the two packages (not build outputs or caches)."""
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=REPO, timeout=60
    ).stdout.splitlines()
    folders = {Path(*parts[:1]) for parts in (Path(f).parts for f in tracked) if len(parts) > 1}
    folders |= {Path(*parts[:2]) for parts in (Path(f).parts for f in tracked) if len(parts) > 2}
    folders = {f for f in folders if f.parts[0] in ("bench", "tokencost") or len(f.parts) == 1}
    text = (DOCS / "layout.md").read_text()
    for folder in sorted(folders):
        if folder.name.startswith((".", "__")):
            continue
        assert f"`{folder}/" in text, folder


def mkdocs(*args: str) -> subprocess.CompletedProcess:
    path = BIN / "mkdocs"
    if not path.exists():
        pytest.fail("mkdocs is missing: install the test extra (pip install -e '.[test]')")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": tempfile.gettempdir(), "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [str(path), *args], capture_output=True, text=True, check=False, cwd=REPO, env=env, timeout=300
    )


def test_the_site_builds_strictly(tmp_path):
    result = mkdocs("build", "--strict", "-d", str(tmp_path / "site"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "calibration" / "index.html").is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    """The same build, one page given a link to nowhere: --strict must refuse it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for page in DOCS.rglob("*.md"):
        (docs / page.relative_to(DOCS)).parent.mkdir(parents=True, exist_ok=True)
        (docs / page.relative_to(DOCS)).write_text(page.read_text())
    (docs / "not-yet.md").write_text((docs / "not-yet.md").read_text() + "\n[gone](calibration.md#no-such-heading)\n")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    config["docs_dir"] = str(docs)
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    result = mkdocs("build", "--strict", "-f", str(tmp_path / "mkdocs.yml"), "-d", str(tmp_path / "site"))
    assert result.returncode == 1
    assert "no-such-heading" in result.stdout + result.stderr
