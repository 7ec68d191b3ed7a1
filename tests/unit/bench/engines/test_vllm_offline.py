"""vLLM's offline engine down to the arguments it gives vLLM, and the settings it reads back (no engine starts)."""

import sys
import types
from types import SimpleNamespace

import pytest

from bench.engines.vllm_offline import VllmOfflineEngine, effective_settings
from bench.inputs.cards import load_card
from bench.inputs.precision import Precision
from bench.inputs.suite import EngineSettings


def vllm_config(quantization, cache_dtype):
    """The parts of vLLM's VllmConfig the engine reads, as vLLM's LLM holds them once started."""
    return SimpleNamespace(
        cache_config=SimpleNamespace(num_gpu_blocks=100, block_size=16, cache_dtype=cache_dtype),
        scheduler_config=SimpleNamespace(max_num_batched_tokens=8192, max_num_seqs=8, enable_chunked_prefill=True),
        compilation_config=SimpleNamespace(mode=0, cudagraph_mode="NONE", cudagraph_capture_sizes=[]),
        model_config=SimpleNamespace(quantization=quantization, dtype="torch.bfloat16"),
    )


@pytest.fixture
def llm_arguments(monkeypatch):
    """Each LLM(...) the engine builds: its keyword arguments, with a started engine that ran them as asked."""
    built: list[dict] = []

    class LLM:
        def __init__(self, **kwargs):
            built.append(kwargs)
            config = vllm_config(kwargs.get("quantization"), kwargs.get("kv_cache_dtype") or "auto")
            self.llm_engine = SimpleNamespace(vllm_config=config)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM))
    monkeypatch.setenv("VLLM_ENGINE_READY_TIMEOUT_S", "900")  # the engine sets it for vLLM: kept to this test
    return built


@pytest.mark.parametrize(
    "precision, quantization, kv_cache_dtype",
    [(Precision(), None, "auto"), (Precision(weights="fp8", kv_cache="fp8"), "fp8", "fp8")],
)
def test_the_precision_arm_is_passed_to_vllm_and_what_it_ran_is_read_back(
    llm_arguments, precision, quantization, kv_cache_dtype
):
    engine = VllmOfflineEngine(load_card("tiny-dense"), 4, EngineSettings(precision=precision))
    (kwargs,) = llm_arguments
    assert (kwargs["quantization"], kwargs["kv_cache_dtype"]) == (quantization, kv_cache_dtype)
    described = engine.describe()
    assert described["effective"]["quantization"] == str(quantization)
    assert described["effective"]["kv_cache_dtype"] == kv_cache_dtype


def test_settings_vllm_lays_out_otherwise_are_left_out_not_fatal():
    assert effective_settings(SimpleNamespace()) == {}
