"""The fit estimate: weights, reserve and KV cache against a GPU's memory, checked against hand arithmetic."""

import pytest

from bench.inputs import fit
from bench.inputs.cards import load_card
from bench.inputs.suite import EngineSettings, load_suite
from bench.offline import plan

H100_MIB, H200_MIB = 81559, 143771  # total memory as nvidia-smi reports it
MIB = 2**20


def test_qwen3_30b_a3b_on_an_h100_holds_65_sequences_of_2048_tokens():
    card = load_card("qwen3-30b-a3b")
    estimate = fit.estimate(card, EngineSettings(gpu_memory_utilization=0.9), 2048, H100_MIB * MIB)
    # 48 layers x 4 KV heads x 128 dims x (K, V) x 2 bytes
    assert estimate.kv_per_token == 48 * 4 * 128 * 2 * 2 == 96 * 1024
    assert estimate.weights == card.params.total * 2
    blocks = (int(H100_MIB * MIB * 0.9) - card.params.total * 2 - fit.RESERVE_PER_GPU_BYTES) // (96 * 1024 * 16)
    assert estimate.max_sequences == blocks // 128 == 65
    assert estimate.why_not(65) is None
    assert estimate.why_not(66).startswith("66 sequences of 2048 tokens need more KV cache than the 12.")


def test_mixtral_weights_do_not_fit_one_h100_but_fit_two_with_tensor_parallel():
    card = load_card("mixtral-8x7b")
    one = fit.estimate(card, EngineSettings(), 2048, H100_MIB * MIB)
    assert one.why_not(1).startswith(
        "mixtral-8x7b's weights (87.0 GiB a GPU) and a 2.5 GiB reserve exceed the 71.7 GiB"
    )
    two = fit.estimate(card, EngineSettings(tensor_parallel_size=2), 2048, H100_MIB * MIB)
    assert two.weights == one.weights // 2 and two.why_not(32) is None
    assert two.kv_per_token == one.kv_per_token // 2  # 8 KV heads split over 2 GPUs


def test_fewer_kv_heads_than_gpus_are_replicated_not_split():
    config = load_card("qwen3-30b-a3b").config  # 4 KV heads
    assert fit.kv_bytes_per_token(config, EngineSettings(tensor_parallel_size=8)) == 48 * 1 * 128 * 2 * 2


def test_data_parallel_replicas_share_the_sequences_in_flight():
    settings = EngineSettings(data_parallel_size=4)
    assert fit.in_flight_per_replica(64, settings) == 16 and fit.in_flight_per_replica(65, settings) == 17


def test_real_kv_blocks_give_the_sequences_vllm_can_hold_less_its_null_block():
    assert fit.sequences_in_blocks(8321, 16, 2048) == 65 and fit.sequences_in_blocks(1601, 128, 200) == 800
    assert fit.sequences_in_blocks(8320, 16, 2048) == 64 and fit.sequences_in_blocks(1600, 128, 200) == 799


@pytest.mark.parametrize("suite_file, memory_mib", [("h100.toml", H100_MIB), ("h200.toml", H200_MIB)])
def test_every_point_of_the_gpu_suites_fits_with_room_to_spare(suite_file, memory_mib):
    suite = load_suite(fit.__file__.replace("inputs/fit.py", f"suites/{suite_file}"))
    suite.check()
    assert suite.engines == ("vllm",) and suite.point_timeout_s and suite.min_window_s >= 30
    sequence = suite.workload.isl + suite.workload.osl
    for point in plan(suite):
        estimate = fit.estimate(load_card(point.model), suite.engine, sequence, memory_mib * MIB)
        # 10 % headroom over the estimate: vLLM's own reserve may be larger than ours
        assert estimate.why_not(int(point.in_flight * 1.1) + 1) is None, point.key


@pytest.mark.parametrize("suite_file", ["h100.toml", "h200.toml"])
def test_every_moe_model_of_the_gpu_suites_has_its_dense_pair_in_the_suite(suite_file):
    suite = load_suite(fit.__file__.replace("inputs/fit.py", f"suites/{suite_file}"))
    for card in map(load_card, suite.models):
        if card.kind == "moe":
            assert suite.pair_of(card.name, card.pairs_with) in suite.models, card.name


def test_fp8_weights_halve_the_linear_layers_and_keep_the_embeddings_in_bf16():
    from bench.inputs.precision import Precision

    card = load_card("llama-3.1-8b")
    bf16 = fit.weight_bytes(card, EngineSettings())
    fp8 = fit.weight_bytes(card, EngineSettings(precision=Precision(weights="fp8")))
    tables = 2 * card.config["vocab_size"] * card.config["hidden_size"]  # untied: embedding and output layer
    assert bf16 == 2 * card.params.total
    assert fp8 == (card.params.total - tables) + 2 * tables


def test_an_fp8_kv_cache_holds_twice_the_sequences_of_a_bf16_one():
    from bench.inputs.precision import Precision

    card = load_card("qwen3-8b")
    bf16 = fit.estimate(card, EngineSettings(), 1536, 80 * fit.GIB)
    fp8 = fit.estimate(card, EngineSettings(precision=Precision(kv_cache="fp8")), 1536, 80 * fit.GIB)
    assert fp8.kv_per_token * 2 == bf16.kv_per_token and fp8.weights == bf16.weights
    assert fp8.max_sequences in (2 * bf16.max_sequences, 2 * bf16.max_sequences + 1)


def test_on_the_cpu_backend_a_tiny_model_gets_the_kv_cache_its_sequences_need_not_a_share_of_host_memory():
    import psutil

    tiny, big = load_card("tiny-dense"), load_card("llama-3.1-8b")
    # 4 layers x 2 KV heads x 64 dims x (K, V) x 2 bytes a token; 8 sequences of 4096 tokens and a 128-token block
    assert fit.engine_memory_arguments(tiny, EngineSettings(), 8) == {"kv_cache_memory_bytes": 2048 * 8 * (4096 + 128)}
    assert fit.engine_memory_arguments(tiny, EngineSettings(max_model_len=512), None) == {
        "kv_cache_memory_bytes": 2048 * 256 * (512 + 128)  # vLLM's default of 256 sequences
    }
    # A model whose full-length sequences would take more: the default share of host memory, as before.
    host = psutil.virtual_memory().total
    assert fit.engine_memory_arguments(big, EngineSettings(), 8) == {"kv_cache_memory_bytes": int(0.3 * host)}
    # A share the suite sets is passed as it is.
    assert fit.engine_memory_arguments(tiny, EngineSettings(gpu_memory_utilization=0.05), 8) == {
        "gpu_memory_utilization": 0.05
    }


def test_on_a_gpu_the_kv_cache_is_the_share_of_its_memory(monkeypatch):
    monkeypatch.setattr(fit, "on_cpu_backend", lambda: False)
    assert fit.engine_memory_arguments(load_card("tiny-dense"), EngineSettings(), 8) == {"gpu_memory_utilization": 0.9}
