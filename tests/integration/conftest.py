"""A vLLM server (CPU build here) that the serving tests and the peers' tests share: both run in the last, one-at-
a-time pass (marker `pace`), and a second start would cost that pass half a minute."""

import os
import shutil
import time
from pathlib import Path

import psutil
import pytest

from bench.inputs.cards import default_models_dir, load_card
from bench.inputs.suite import EngineSettings
from bench.serve.server import VllmServer


def copy_without_tokenizer(models: Path, name: str = "tiny-bare") -> Path:
    """tiny-dense copied into `models` under `name` without its tokenizer files: a config-only card, as every GPU
    card is."""
    return shutil.copytree(
        default_models_dir() / "tiny-dense", models / name, ignore=shutil.ignore_patterns("tokenizer*")
    )


def session_processes(leader_pid: int) -> list[psutil.Process]:
    """Every live process in the server's own session (the server and its engine/worker children)."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == leader_pid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return found


def assert_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while session_processes(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert session_processes(pid) == [], "server processes left running"


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory):
    """tiny-dense served eagerly, up to 8 requests at a time; every process of it is gone after the session."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with VllmServer(load_card("tiny-dense"), EngineSettings(enforce_eager=True), log, max_num_seqs=8) as running:
        pid = running.process.pid
        yield running
    assert_gone(pid)
