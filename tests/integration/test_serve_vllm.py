"""Serving mode against a real vLLM server (CPU build here) on loopback."""

import signal
import time

import pandas as pd
import psutil
import pytest

from bench.inputs.suite import Suite, with_overrides
from bench.inputs.workload import Workload
from bench.run.records import read_records
from bench.serve import client as serve_client
from bench.serve.client import CompletionsClient, closed_loop, poisson, run_load
from bench.serve.metrics import Slo, summarize
from bench.serve.server import LOOPBACK
from bench.serve.sweep import run_serve_sweep
from tests.integration.conftest import assert_gone, session_processes
from tests.support.run_cli import start_tokencost, tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

ISL, OSL = 32, 16
SUITE = """
min_window_s = 3.0
[workload]
isl = 32
osl = 16
[engine]
enforce_eager = true
[serve]
requests_per_concurrency = 2
requests_per_rate = 12
"""


@pytest.fixture
def server(tiny_server):
    return tiny_server


def _run(server, load):
    card = server.card
    prompts = Workload(isl=ISL, osl=OSL).prompts(load[1], card.vocab_size)

    async def drive():
        async with CompletionsClient(server.base_url, card.name) as client:
            if load[0] == "concurrency":
                return await closed_loop(client, prompts, OSL, load[2])
            return await poisson(client, prompts, OSL, load[2], seed=1)

    return run_load(drive(), 300)


def test_the_server_listens_on_loopback_only(server):
    family = [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(recursive=True)]
    listening = [c.laddr for p in family for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert listening and all(address.ip == LOOPBACK for address in listening), listening
    assert any(address.port == server.port for address in listening)


@pytest.mark.parametrize("load", [("concurrency", 2, 1), ("concurrency", 8, 4), ("rate", 12, 8.0)])
def test_every_request_is_accounted_for_and_matches_usage(server, load):
    result = _run(server, load)
    assert len(result.requests) == load[1]
    metrics = summarize(result.requests, Slo(ttft_ms=60_000, tpot_ms=60_000))
    assert metrics.completed == load[1] and metrics.failed == 0
    for r in result.requests:
        assert r.prompt_tokens == ISL and r.output_tokens == OSL  # the server's usage
        assert sum(n for _, n in r.arrivals) == OSL  # every token arrived, counted per chunk
        assert r.sent < r.arrivals[0][0] <= r.arrivals[-1][0] <= r.end
    assert metrics.input_tokens == load[1] * ISL and metrics.output_tokens == load[1] * OSL
    latency = metrics.latency_ms
    for stats in (latency.ttft, latency.tpot, latency.itl, latency.e2e):
        assert 0 <= stats.median <= stats.p90 <= stats.p99
    assert metrics.goodput.share == 1.0
    if latency.tpot.median:
        assert metrics.interactivity_tok_s_user == pytest.approx(1000 / latency.tpot.median)
    else:  # two busy cores: most requests' tokens came in one read, so no time between them to speak of
        assert metrics.interactivity_tok_s_user is None
    if load[0] == "concurrency":
        assert metrics.max_concurrent_requests <= load[2]
    if load[0] == "concurrency":  # closed loop: every slot decoding before the last request is sent
        # A busy machine may stagger the slots: then it says so. (tests/unit/bench/serve/test_client.py checks
        # the window itself with answers in a known order.)
        if result.window_open is None:
            assert result.notes == ["no steady state: the load never filled before the last request was sent"]
        else:
            assert result.window_close > result.window_open and not result.notes


def test_an_existing_endpoint_is_measured_without_starting_anything(server, tmp_path):
    suite = with_overrides(
        Suite(),
        models=["tiny-dense"],
        isl=ISL,
        osl=OSL,
        mode="serve",
        min_window_s=0,
        serve={"concurrencies": (2,), "requests_per_concurrency": 2, "endpoint": server.base_url, "warmup": False},
    )
    result = run_serve_sweep(suite, tmp_path / "run")
    assert result.failures == []
    (record,) = read_records(tmp_path / "run")
    assert record.engine.name == "endpoint" and record.engine.served_model == "tiny-dense"
    assert record.energy.method == "estimated"  # local endpoint, no GPU here: this CPU, estimated
    assert record.requests_completed == 4 and record.output_tokens == 4 * OSL and record.concurrency == 2
    assert record.validity.checks["other_processes"].ok


def test_a_client_error_fails_its_point_and_the_sweep_goes_on(server, tmp_path, monkeypatch):
    """Against the shared server as an endpoint: a server this sweep starts is stopped on the same way out of its
    `with` whether a point failed or not (bench/serve/sweep.py); test_serve_run_end_to_end sees it gone."""
    real_send = serve_client.CompletionsClient.send
    calls = {"n": 0}

    async def failing_send(self, prompt, osl, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected client failure")
        return await real_send(self, prompt, osl, *args, **kwargs)

    monkeypatch.setattr(serve_client.CompletionsClient, "send", failing_send)
    suite = with_overrides(
        Suite(),
        models=["tiny-dense"],
        isl=ISL,
        osl=OSL,
        mode="serve",
        min_window_s=0,
        serve={"concurrencies": (1, 2), "requests_per_concurrency": 2, "endpoint": server.base_url, "warmup": False},
    )
    result = run_serve_sweep(suite, tmp_path / "run")
    records = read_records(tmp_path / "run")
    assert [(r.status, r.failure, r.concurrency) for r in records] == [("ok", None, 1), ("failed", "error", 2)]
    assert "injected client failure" in records[1].error and len(result.failures) == 1
    assert server.process.poll() is None  # the endpoint is not ours to stop


@pytest.fixture(scope="module")
def serve_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("serve") / "run"
    suite = tmp_path_factory.mktemp("suite") / "suite.toml"
    suite.write_text(SUITE)
    result = tokencost(
        "run",
        "--suite",
        suite,
        "--mode",
        "serve",
        "--models",
        "tiny-dense,tiny-moe",
        "--concurrency",
        "1,4",
        "--request-rates",
        "8",
        "--out",
        run_dir,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run_dir, result


def test_serve_run_end_to_end(serve_run):
    run_dir, result = serve_run
    records = read_records(run_dir)
    assert [(r.model.name, r.concurrency, r.request_rate) for r in records] == [
        (m, c, r) for m in ("tiny-dense", "tiny-moe") for c, r in ((1, None), (4, None), (None, 8.0))
    ]
    for r in records:
        assert r.status == "ok" and r.mode == "serve" and r.batch_size is None
        assert r.requests_completed == r.num_requests and r.requests_failed == 0
        assert r.output_tokens == r.num_requests * OSL and r.input_tokens == r.num_requests * ISL
        if r.concurrency:  # a closed loop is sized by time too: at least its count, and 3 s
            assert r.num_requests >= 2 * r.concurrency and r.num_requests % r.concurrency == 0
            assert r.duration_s >= 3.0 and r.load.num_requests == r.num_requests
        else:  # an open loop sends its count, arrivals drawn in advance
            assert r.num_requests == 12
        assert r.energy.method == "estimated" and r.energy.energy_j > 0
        assert_gone(r.engine.pid)  # after success
    for r in records:
        steady = r.steady_state
        if steady.reached:  # timed from enough reads, inside the point, before the last request
            assert 0 < steady.output_tokens < r.output_tokens and 0 < steady.duration_s < r.duration_s
            assert steady.energy.energy_j > 0
        else:  # on two busy cores the client may read a tiny model's tokens in a few bursts: then it says so
            assert steady.why.startswith(("the steady window was too short", "no steady state")), steady
    served = pd.read_json(run_dir / "requests.jsonl", lines=True)
    assert len(served) == sum(r.num_requests for r in records) and served["ok"].all()
    costs = pd.read_csv(run_dir / "serve_costs.csv")
    assert len(costs) == 6 and costs["total_per_mtok_usd"].gt(0).all() and costs["on_cost_front"].any()
    assert (run_dir / "cost_vs_interactivity.png").stat().st_size > 10_000
    assert "Serving: cost against interactivity" in (run_dir / "report.md").read_text()
    assert "tok/s/user" in result.stdout
    assert "Serving: dense vs MoE at the same interactivity" in (run_dir / "report.md").read_text()
    gate = tokencost("compare", run_dir, run_dir)  # serving points match themselves, one per load
    assert gate.returncode == 0 and "0 regressed, 6 ok" in gate.stdout, gate.stdout


def test_sigint_stops_the_server_and_keeps_completed_points(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.replace("osl = 16", "osl = 256"))
    run_dir = tmp_path / "run"
    process = start_tokencost(
        "run",
        "--suite",
        suite,
        "--models",
        "tiny-dense",
        "--mode",
        "serve",
        "--concurrency",
        "1,2,4,8",
        "--out",
        run_dir,
    )
    records = run_dir / "records.jsonl"
    deadline = time.monotonic() + 600
    while not (records.exists() and records.read_text().strip()) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr_text()[-3000:]
        time.sleep(0.5)
    server_pid = read_records(run_dir)[0].engine.pid
    assert session_processes(server_pid)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    statuses = [r.status for r in read_records(run_dir)]
    assert statuses[0] == "ok" and statuses[-1] == "interrupted"
    assert_gone(server_pid)
