"""`tokencost --version`: the installed distribution's version, and the git commit of the code that runs."""

from importlib import metadata

from bench.environment import git_commit

DISTRIBUTION = "tokencost-bench"
UNKNOWN = "unknown"


def version_line() -> str:
    """e.g. "tokencost 0.1.0 (commit 3f2a9c1d...)": the commit as every record states it (bench.environment:
    "-dirty" with uncommitted changes; in an image, the commit it was built from); "unknown" where it cannot be
    told (no checkout, no git, no distribution installed)."""
    return f"tokencost {distribution_version()} (commit {git_commit() or UNKNOWN})"


def distribution_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
