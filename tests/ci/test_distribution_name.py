"""The project installs as tokencost-bench: "tokencost" on the public package index is an unrelated project.
The command and the import package keep the name tokencost; records keep the version under the new name."""

import subprocess
import tomllib

from bench import environment
from tests.support import REPO

DISTRIBUTION = "tokencost-bench"


def test_the_distribution_is_named_tokencost_bench_and_still_installs_the_tokencost_command():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"tokencost": "tokencost.cli.main:main"}


def test_records_keep_the_version_under_the_distribution_name():
    assert DISTRIBUTION in environment.PACKAGES and "tokencost" not in environment.PACKAGES


def test_make_install_removes_a_distribution_of_the_old_name_before_installing():
    """An existing .venv holds this project as `tokencost`; left there, it claims the same package and command."""
    # What make would run (-n: print only; -B: as if nothing were installed yet).
    planned = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    uninstall = planned.index(".venv/bin/python -m pip uninstall --quiet --yes tokencost")
    assert uninstall < planned.index(".venv/bin/python -m pip install --quiet -e '.[cpu,test,ray]'")
