"""Serving mode without a server: the command line, load points, the server's command, bad input."""

import json
import socket

import pytest

from bench.errors import UserError
from bench.inputs.cards import load_card
from bench.inputs.suite import EngineSettings, ServeSettings, Suite
from bench.inputs.workload import Workload
from bench.serve.client import _Events
from bench.serve.metrics import RequestTiming
from bench.serve.server import LOOPBACK, VllmServer, server_command
from bench.serve.sweep import load_points, serve_point_key
from tests.support.cli import tokencost


def test_load_points_follow_the_suite():
    serve = ServeSettings(
        concurrencies=(1, 8),
        requests_per_concurrency=10,
        request_rates=(0.5, 4.0),
        requests_per_rate=20,
        max_concurrency=16,
    )
    points = load_points(Suite(serve=serve))
    assert [(p.label, p.num_requests, p.max_concurrency) for p in points] == [
        ("conc1", 10, None),
        ("conc8", 80, None),
        ("rate0.5", 20, 16),
        ("rate4", 20, 16),
    ]
    assert (
        serve_point_key("tiny-moe", "vllm", points[1], Workload(isl=64, osl=32))
        == "tiny-moe/vllm-serve/conc8/isl64/osl32"
    )


def test_the_server_command_binds_loopback_and_passes_parallelism_through():
    settings = EngineSettings(tensor_parallel_size=2, max_model_len=4096, enforce_eager=True)
    command = server_command(
        load_card("llama-3.1-8b"),
        settings,
        8123,
        64,
        ("--max-num-batched-tokens", "8192", "--distributed-executor-backend", "ray"),
    )
    text = " ".join(command)
    assert "--host 127.0.0.1 --port 8123" in text and "0.0.0.0" not in text
    assert "--tensor-parallel-size 2" in text and "--max-num-seqs 64" in text and "--max-model-len 4096" in text
    assert "--enable-prefix-caching" in command and "--enforce-eager" in command
    assert "--load-format dummy" in text and "--skip-tokenizer-init" in command  # a config-only card
    assert command[-4:] == ["--max-num-batched-tokens", "8192", "--distributed-executor-backend", "ray"]


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = VllmServer(load_card("tiny-dense"), EngineSettings(), tmp_path / "server.log", port=port)
        with pytest.raises(UserError, match=f"127.0.0.1:{port} is already in use"):
            server.start()
        assert server.process is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "offline", "--concurrency", "4"], "--mode: is offline but serving options were given"),
        (
            ["--endpoint", "http://192.0.2.1:8000"],
            "serve.endpoint_accelerator: a remote endpoint's hardware is unknown",
        ),
        (["--endpoint", "ftp://example.org"], "serve.endpoint"),
        (["--mode", "serve", "--slo-ttft-ms", "-5"], "--slo-ttft-ms: is -5; give a positive number"),
    ],
)
def test_bad_serving_options_give_one_line_and_exit_2(tmp_path, args, message):
    result = tokencost("run", *args, "--models", "tiny-dense", "--out", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and message in error[0], result.stderr


def test_bad_rates_are_refused_by_the_parser(tmp_path):
    result = tokencost("run", "--request-rates", "fast", "--out", tmp_path / "run")
    assert result.returncode == 2 and "--request-rates" in result.stderr


def test_streamed_events_split_across_reads_are_counted_once():
    def event(tokens, finish=False):
        usage = {"prompt_tokens": 32, "completion_tokens": tokens, "total_tokens": 32 + tokens}
        return (
            b"data: "
            + json.dumps(
                {"choices": [{"text": "x", "finish_reason": "length" if finish else None}], "usage": usage}
            ).encode()
            + b"\n\n"
        )

    stream = event(1) + event(3) + event(4, finish=True) + b"data: [DONE]\n\n"
    timing = RequestTiming(sent=0.0)
    first = []
    events = _Events(timing, first.append)
    cut = len(event(1)) + 10  # the second event arrives in two reads
    assert not events.feed(stream[:cut], 1.0)
    assert events.feed(stream[cut:], 2.0)
    assert timing.arrivals == [(1.0, 1), (2.0, 2), (2.0, 1)]  # the second event carried two tokens
    assert (timing.prompt_tokens, timing.output_tokens) == (32, 4) and first == [1.0]  # told when it came


def test_an_endpoint_is_described_by_one_card(tmp_path):
    result = tokencost("run", "--endpoint", "http://127.0.0.1:9", "--models", "tiny-dense,tiny-moe", "--out", tmp_path)
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and "--models: an endpoint serves one model, and 2 cards were named" in error[0], error


def test_the_servers_kv_cache_and_batching_limit_are_read_from_its_metrics_and_log():
    from bench.serve.server import effective_settings

    # Two data parallel replicas of 8320 blocks: vLLM's front end sums them, and each replica's line says 16640.
    metrics = (
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
        'vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",num_gpu_blocks="16640"} 1.0\n'
        'vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="1",num_gpu_blocks="16640"} 1.0\n'
        'vllm:num_requests_running{engine="0"} 0.0\n'
    )
    log = (
        "INFO [gpu_worker.py:518] Using V2 Model Runner\n"
        "INFO [scheduler.py:308] Chunked prefill is enabled with max_num_batched_tokens=8192.\n"
    )
    assert effective_settings(metrics, log) == {
        "num_gpu_blocks": 8320,
        "block_size": 16,
        "kv_cache_tokens": 8320 * 16,
        "engine_replicas": 2,
        "max_num_batched_tokens": 8192,
        "quantization": None,
        "kv_cache_dtype": None,
        "model_runner": "v2",
    }
    assert effective_settings("", "") == {
        "num_gpu_blocks": None,
        "block_size": None,
        "kv_cache_tokens": None,
        "engine_replicas": None,
        "max_num_batched_tokens": None,
        "quantization": None,
        "kv_cache_dtype": None,
        "model_runner": "v1",
    }


def test_parallel_sizes_and_the_batching_limit_become_server_flags():
    settings = EngineSettings(
        tensor_parallel_size=2, pipeline_parallel_size=2, data_parallel_size=2, max_num_batched_tokens=8192
    )
    text = " ".join(server_command(load_card("llama-3.1-8b"), settings, 8123, 64))
    assert "--tensor-parallel-size 2 --pipeline-parallel-size 2 --data-parallel-size 2" in text
    assert "--max-num-batched-tokens 8192" in text


def test_a_precision_arm_becomes_server_flags_and_the_precision_the_server_ran_is_read_back():
    from bench.inputs.precision import Precision
    from bench.serve.server import effective_settings

    card = load_card("llama-3.1-8b")
    assert "--quantization" not in server_command(card, EngineSettings(), 8123, 64)  # bf16: vLLM's defaults
    assert "--kv-cache-dtype" not in server_command(card, EngineSettings(), 8123, 64)
    fp8 = EngineSettings(precision=Precision(weights="fp8", kv_cache="fp8"))
    text = " ".join(server_command(card, fp8, 8123, 64))
    assert "--quantization fp8" in text and "--kv-cache-dtype fp8" in text
    # vLLM's engine config line, as its server logs it at start
    log = (
        "INFO [core.py:93] Initializing a V1 LLM engine (v0.32.0) with config: model='/models/llama', "
        "dtype=torch.bfloat16, max_seq_len=4096, quantization=fp8, enforce_eager=False, kv_cache_dtype=fp8, "
        "device_config=cuda\n"
    )
    ran = effective_settings("", log)
    assert (ran["quantization"], ran["kv_cache_dtype"]) == ("fp8", "fp8")
