"""Every /metrics read goes through prometheus_client's parser: a vLLM server's real text, histograms, labels and
`# HELP`/`# TYPE` lines included, read by the three readers (prefix-cache counters, the server's KV cache, and
the parity benchmark's server-side latencies)."""

import http.server
import threading

import pytest

from bench.overhead.parity import server_counters
from bench.prometheus import samples, summed
from bench.run.prefix_cache import counters_in_exposition
from bench.serve.server import effective_settings
from tests.support import FIXTURES

METRICS = (FIXTURES / "vllm-metrics" / "two-engines.txt").read_text()


def test_every_sample_of_a_vllm_server_is_read_with_its_labels():
    found = samples(METRICS)
    assert not any(line.startswith("#") for line in (s.name for s in found))
    running = [(s.labels, s.value) for s in found if s.name == "vllm:num_requests_running"]
    assert running == [
        ({"engine": "0", "model_name": "tiny-dense"}, 2.0),
        ({"engine": "1", "model_name": "tiny-dense"}, 0.0),
    ]
    buckets = [s for s in found if s.name == "vllm:time_to_first_token_seconds_bucket" and s.labels["engine"] == "0"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 3.0  # a histogram's cumulative buckets


def test_histogram_sums_and_counts_add_up_over_engines():
    names = {"vllm:time_to_first_token_seconds_sum", "vllm:time_to_first_token_seconds_count"}
    assert summed(METRICS, names) == pytest.approx(
        {"vllm:time_to_first_token_seconds_sum": 0.355 + 0.027, "vllm:time_to_first_token_seconds_count": 4.0}
    )
    assert summed(METRICS, {"vllm:no_such_metric"}) == {}


def test_the_prefix_cache_counters_are_summed_over_engines():
    assert counters_in_exposition(METRICS) == (1792 + 208, 1280)


def test_the_servers_kv_cache_is_read_from_its_cache_config_labels():
    settings = effective_settings(METRICS, "")
    assert (settings["num_gpu_blocks"], settings["block_size"], settings["engine_replicas"]) == (8320, 16, 2)


def test_a_label_value_holding_a_brace_or_an_escaped_quote_is_one_label():
    text = (
        "# TYPE vllm:cache_config_info gauge\n"
        'vllm:cache_config_info{block_size="16",engine="0",hf_overrides="{\\"a\\": 1}",num_gpu_blocks="100"} 1.0\n'
    )
    (sample,) = samples(text)
    assert sample.labels == {"block_size": "16", "engine": "0", "hf_overrides": '{"a": 1}', "num_gpu_blocks": "100"}
    assert effective_settings(text, "")["num_gpu_blocks"] == 100


def test_text_that_is_not_prometheus_gives_what_came_before_it():
    assert samples("") == [] and samples("<html>502 Bad Gateway</html>") == []
    cut = METRICS.split("# HELP vllm:generation_tokens_total")[0] + "vllm:generation_tokens_total{engine=\n"
    assert counters_in_exposition(cut) == (2000, 1280)


@pytest.fixture
def metrics_server():
    """A loopback HTTP server answering /metrics with the vLLM text."""

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = METRICS.encode()
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_parity_benchmark_reads_the_servers_latency_histograms(metrics_server):
    assert server_counters(metrics_server) == pytest.approx(
        {
            "time_to_first_token_sum": 0.382,
            "time_to_first_token_count": 4.0,
            "inter_token_latency_sum": 0.092,
            "inter_token_latency_count": 6.0,
        }
    )
