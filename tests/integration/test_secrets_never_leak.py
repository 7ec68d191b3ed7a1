"""A hostile endpoint echoes the API key back (body, headers, reason phrase): the key reaches no output.

A real local HTTP server on 127.0.0.1 answers every request with 401 and the key it was sent; the real
`tokencost` command measures it with `--endpoint`; every file under the run directory and the captured
stdout/stderr are searched for any 8 characters of the key. The server is not vLLM: nothing starts.
"""

import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from tests.support.run_cli import tokencost

pytestmark = pytest.mark.timeout(600)

# Quote and backslash: a JSON writer escapes them, so a replace of the raw value alone would miss the key.
KEY = 'tcK9f3ZqX"7\\Lm2Wv8Rb'
KEY_ENV = "TC_LEAKTEST_AUTH"  # a name that does not look secret: the key is masked because it is the key
URL_PASSWORD = "pwZ8q4LmT2xV"


class EchoingRefusal(http.server.BaseHTTPRequestHandler):
    """401 to everything, the key in the reason phrase, two headers and a body that puts it across the
    200th character (where the client cuts an error short)."""

    def _refuse(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        sent = self.headers.get("Authorization", "")
        body = ("x" * 160 + f" invalid key {sent} " + json.dumps({"error": {"message": f"bad key {KEY}"}})).encode()
        self.send_response(401, f"Unauthorized {KEY}")
        self.send_header("WWW-Authenticate", f'Bearer error="invalid_token", token="{KEY}"')
        self.send_header("X-Echo-Key", KEY)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoingRefusal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def leaks(text: str, secret: str) -> list[str]:
    """Every 8 characters of `secret` found in `text` (a half-shown key is a leak too)."""
    return sorted({secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text})


def assert_nowhere(secret: str, run_dir: Path, result) -> None:
    assert leaks(result.stdout, secret) == [] and leaks(result.stderr, secret) == []
    for path in run_dir.rglob("*") if run_dir.exists() else ():
        if path.is_file():
            assert leaks(path.read_bytes().decode("utf-8", "replace"), secret) == [], path


def run(endpoint: str, tmp_path: Path, serve_lines: str = "", environ: dict | None = None):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f"min_window_s = 0\n[workload]\nisl = 16\nosl = 4\n[serve]\nrequests_per_concurrency = 2\n"
        f"warmup = false\n{serve_lines}"
    )
    env = {**os.environ, **(environ if environ is not None else {KEY_ENV: KEY})}
    return tokencost(
        "run",
        "--mode",
        "serve",
        "--suite",
        suite,
        "--models",
        "tiny-dense",
        "--concurrency",
        "2",
        "--endpoint",
        endpoint,
        "--out",
        tmp_path / "run",
        env=env,
        timeout=300,
    )


def test_a_key_echoed_in_every_answer_to_every_request_reaches_no_file_and_no_console(endpoint, tmp_path):
    result = run(endpoint, tmp_path, f'api_key_env = "{KEY_ENV}"\nendpoint_model = "tiny-dense"\n')
    assert result.returncode == 1, result.stderr  # the point failed: every request was refused
    assert "HTTP 401" in result.stderr
    requests = [json.loads(line) for line in (tmp_path / "run" / "requests.jsonl").read_text().splitlines()]
    assert len(requests) == 4 and all(r["error"].startswith("HTTP 401: ") for r in requests)
    assert all("[redacted]" in r["error"] for r in requests)  # the body was kept, the key masked
    assert_nowhere(KEY, tmp_path / "run", result)


def test_a_key_echoed_while_the_model_list_is_read_reaches_no_file_and_no_console(endpoint, tmp_path):
    result = run(endpoint, tmp_path, f'api_key_env = "{KEY_ENV}"\n')
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tokencost: error: --endpoint: ") and "answered HTTP 401" in last
    assert "Traceback" not in result.stderr
    assert_nowhere(KEY, tmp_path / "run", result)


@pytest.mark.parametrize(
    "credentials",
    [
        f"user:{URL_PASSWORD}@example.invalid/v1",  # no port: once a traceback
        f"user:{URL_PASSWORD}@127.0.0.1:9/v1",
    ],
)
def test_credentials_in_the_url_are_refused_in_one_line_before_anything_starts(tmp_path, credentials):
    result = run(f"http://{credentials}", tmp_path, 'endpoint_model = "tiny-dense"\n', environ={})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tokencost: error: --endpoint: holds credentials") and "serve.api_key_env" in line
    assert not (tmp_path / "run" / "run.json").exists()
    assert_nowhere(URL_PASSWORD, tmp_path / "run", result)


def test_an_unset_key_variable_is_one_line_before_anything_starts(endpoint, tmp_path):
    result = run(endpoint, tmp_path, 'api_key_env = "TOKENCOST_KEY"\n', environ={"TOKENCOST_KEY": ""})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tokencost: error: serve.api_key_env: TOKENCOST_KEY is not set; export it, or leave api_key_env out"
    )
    assert not (tmp_path / "run" / "run.json").exists()
