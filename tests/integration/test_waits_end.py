"""Waits with no end of their own end anyway: within their stated bound, or at once on SIGTERM, leaving no process.

Something that is not Ray listening at a --ray-address (a dashboard's port, say) makes Ray's own join retry for
ever without answering a signal; a trace whose timestamps span a year would hold a replay for a year.
"""

import http.server
import os
import signal
import threading
import time

import psutil
import pytest

from tests.support.run_cli import start_tokencost, tokencost

JOIN_BOUND_S = 5


@pytest.fixture
def not_ray():
    """An HTTP server on a free loopback port: it accepts connections and answers nothing Ray understands."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _join_probes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if "ray.init" in " ".join(p.info["cmdline"] or [])]


def test_a_port_where_ray_does_not_answer_is_refused_within_the_bound(not_ray, tmp_path):
    env = os.environ | {"TOKENCOST_RAY_JOIN_TIMEOUT_S": str(JOIN_BOUND_S)}
    started = time.monotonic()
    done = tokencost("run", "--models", "tiny-dense", "--ray-address", not_ray, "--out", tmp_path / "run", env=env)
    took = time.monotonic() - started
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"--ray-address: {not_ray} did not answer as a Ray cluster within {JOIN_BOUND_S} s" in done.stderr
    assert "not the dashboard's port" in done.stderr
    assert took < JOIN_BOUND_S + 30  # the bound, plus starting the command and its probe
    assert not (tmp_path / "run").exists() and not _join_probes()


def test_sigterm_ends_the_wait_for_a_ray_cluster_and_its_probe(not_ray, tmp_path):
    process = start_tokencost("run", "--models", "tiny-dense", "--ray-address", not_ray, "--out", tmp_path / "run")
    deadline = time.monotonic() + 60
    while not _join_probes() and time.monotonic() < deadline:  # the probe is joining
        time.sleep(0.2)
    assert _join_probes(), "the join probe never started"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and time.monotonic() - started < 15
    assert stderr.strip().splitlines()[-1] == "tokencost: interrupted before any point was measured"
    assert not (tmp_path / "run").exists() and not _join_probes()


def test_a_trace_spanning_a_year_is_refused_before_anything_starts(tmp_path):
    trace = tmp_path / "year.jsonl"
    trace.write_text(
        '{"timestamp": 0, "input_length": 16, "output_length": 8, "hash_ids": [0]}\n'
        '{"timestamp": 31536000000, "input_length": 16, "output_length": 8, "hash_ids": [1]}\n'
    )
    started = time.monotonic()
    done = tokencost(
        "run", "--models", "tiny-dense", "--mode", "serve", "--workload", "trace", "--trace", trace,
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert "replays over 365.0 days at time_scale 1, more than the day a replay may take" in done.stderr
    assert "workload.trace.time_scale >= 365" in done.stderr
    assert time.monotonic() - started < 60 and not (tmp_path / "run").exists()
