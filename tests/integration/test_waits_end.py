"""Waits with no end of their own end anyway: within their stated bound, or at once on SIGTERM, leaving no process.

Something that is not Ray listening at a --ray-address (a dashboard's port, say) makes Ray's own join retry for
ever without answering a signal; a trace whose timestamps span a year would hold a replay for a year.
"""

import http.server
import json
import os
import signal
import threading
import time

import psutil
import pytest

from tests.support.run_cli import start_tokencost, tokencost

JOIN_BOUND_S = 5
POINT_TIMEOUT_S = 3


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


class Silent(http.server.BaseHTTPRequestHandler):
    """Accepts every request and never answers it (until the test ends)."""

    released = threading.Event()

    def _hang(self):
        self.released.wait(300)

    do_GET = do_POST = _hang

    def log_message(self, *args):
        pass


@pytest.fixture
def silent_endpoint():
    Silent.released.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    Silent.released.set()
    server.shutdown()
    server.server_close()


def _serve(
    endpoint: str, tmp_path, model_line: str = 'endpoint_model = "tiny-dense"\n', timeout: str = ""
) -> list[str]:
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f"min_window_s = 0\n{timeout}[workload]\nisl = 16\nosl = 4\n"
        f"[serve]\nrequests_per_concurrency = 1\nwarmup = false\n{model_line}"
    )
    return [
        "run", "--mode", "serve", "--suite", str(suite), "--models", "tiny-dense", "--concurrency", "1",
        "--endpoint", endpoint, "--out", str(tmp_path / "run"),
    ]  # fmt: skip


def test_an_endpoint_that_never_lists_its_models_is_refused_within_its_bound(silent_endpoint, tmp_path):
    started = time.monotonic()
    done = tokencost(*_serve(silent_endpoint, tmp_path, model_line=""))
    assert done.returncode == 2 and time.monotonic() - started < 60, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("tokencost: error: --endpoint: ")


def test_an_endpoint_that_never_answers_a_request_fails_the_point_at_its_timeout(silent_endpoint, tmp_path):
    started = time.monotonic()
    done = tokencost(*_serve(silent_endpoint, tmp_path, timeout=f"point_timeout_s = {POINT_TIMEOUT_S}\n"))
    assert done.returncode == 1 and time.monotonic() - started < POINT_TIMEOUT_S + 60, done.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert record["status"] == "failed" and record["failure"] == "timeout"


def test_sigterm_ends_a_wait_on_an_endpoint_that_never_answers(silent_endpoint, tmp_path):
    """No point timeout: only the request's own hour, or a signal, ends this wait."""
    process = start_tokencost(*_serve(silent_endpoint, tmp_path))
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "run.json").exists() and time.monotonic() < deadline:  # the point has begun
        time.sleep(0.2)
    time.sleep(2)  # its one request sent, and waiting
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and time.monotonic() - started < 15, stderr
    (record,) = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert record["status"] == "interrupted"
