"""`tokencost --version`: the distribution's version and, from a git checkout, its commit."""

import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.cli import tokencost
from tokencost.cli import version
from tokencost.cli.version import version_line

LINE = re.compile(r"^tokencost (\S+) \(commit ([0-9a-f]{40}(-dirty)?|unknown)\)$")
CHECKOUT = Path(version.__file__).resolve().parents[2]


def test_version_prints_the_distribution_version_and_the_checkouts_commit():
    result = tokencost("--version")
    assert result.returncode == 0 and result.stderr == ""
    found = LINE.match(result.stdout.rstrip("\n"))
    assert found and result.stdout.count("\n") == 1, result.stdout
    assert found.group(1) == metadata.version("tokencost-bench")
    if (CHECKOUT / ".git").exists() and shutil.which("git"):
        head = subprocess.run(["git", "-C", CHECKOUT, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        assert found.group(2).removesuffix("-dirty") == head.stdout.strip()


def test_without_a_checkout_or_an_installed_distribution_each_part_says_unknown(monkeypatch):
    monkeypatch.setattr(version, "git_commit", lambda: None)
    assert version_line() == f"tokencost {metadata.version('tokencost-bench')} (commit unknown)"

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", not_installed)
    assert version_line() == "tokencost unknown (commit unknown)"


def test_an_image_without_git_names_the_commit_it_was_built_from(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKENCOST_GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to ask
    assert version_line().endswith("(commit 0123456789abcdef0123456789abcdef01234567)")


@pytest.mark.parametrize("argv", [["--version", "quote"], ["--version", "--bogus"]])
def test_version_wins_over_what_follows_it(argv):
    result = tokencost(*argv)
    assert result.returncode == 0 and LINE.match(result.stdout.strip())
