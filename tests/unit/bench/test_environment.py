"""Provenance: the commit a measurement ran from, in a checkout and in an image built without .git."""

import importlib.util
import re
import shutil
import subprocess

import pytest

from bench import environment
from tests.support import REPO

IMAGE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def copy_of_environment(root):
    """bench/environment.py loaded from a copy under root, so git_commit() looks at root, not this repository."""
    target = root / "bench" / "environment.py"
    target.parent.mkdir(parents=True)
    shutil.copy(REPO / "bench" / "environment.py", target)
    spec = importlib.util.spec_from_file_location("environment_copy", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def outside_any_checkout(tmp_path, monkeypatch):
    """A folder git will not look above (like /opt/tokencost in the image), with environment.py in it."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
    return copy_of_environment(tmp_path / "image")


def git(root, *args):
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True
    )


def test_without_a_checkout_the_commit_comes_from_the_image(outside_any_checkout, monkeypatch):
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", IMAGE_COMMIT)
    assert outside_any_checkout.git_commit() == IMAGE_COMMIT


@pytest.mark.parametrize("value", [None, "", "  "])
def test_without_a_checkout_or_a_build_argument_there_is_no_commit(outside_any_checkout, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("TOKENCOST_GIT_COMMIT", raising=False)
    else:
        monkeypatch.setenv("TOKENCOST_GIT_COMMIT", value)  # `docker build` without --build-arg GIT_COMMIT
    assert outside_any_checkout.git_commit() is None


def test_without_git_installed_the_commit_comes_from_the_image(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH: the image may not ship it
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", IMAGE_COMMIT)
    assert environment.git_commit() == IMAGE_COMMIT


def test_a_checkout_wins_over_the_build_argument_and_says_when_it_is_dirty(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", IMAGE_COMMIT)
    root = tmp_path / "checkout"
    module = copy_of_environment(root)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert module.git_commit() == head
    (root / "untracked.txt").write_text("not counted")
    assert module.git_commit() == head
    (root / "bench" / "environment.py").write_text("# changed\n")
    assert module.git_commit() == head + "-dirty"


def test_the_software_record_carries_the_commit(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", IMAGE_COMMIT)
    assert environment.software()["git_commit"] == IMAGE_COMMIT


def test_this_repository_reports_its_own_commit(monkeypatch):
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, check=False).returncode != 0:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", IMAGE_COMMIT)
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", environment.git_commit())
