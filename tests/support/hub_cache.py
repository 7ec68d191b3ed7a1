"""A Hugging Face cache on disk, laid out as huggingface_hub lays it out, with the network off: what a machine that
fetched a model's config.json once, and is offline now, holds."""

import shutil
from pathlib import Path

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # a snapshot's folder is named by its 40-hex commit


def cache_config(cache: Path, repo_id: str, config: Path) -> Path:
    """Put `config` in `cache` as `repo_id`'s config.json of its main revision (models--ORG--NAME/refs/main naming
    the snapshot, snapshots/COMMIT/config.json); returns the snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copyfile(config, snapshot / "config.json")
    return snapshot


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache of this test's own, and offline mode on: the Hub is never asked. huggingface_hub
    reads both settings once, on import, so its constants are set as well as the environment."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache
