"""Will a model and its KV cache fit the GPUs at a batch size? An estimate made before any engine starts.

vLLM gives each GPU `gpu_memory_utilization` of its memory. The weights (BF16
or FP16: 2 bytes a parameter; quantized, the linear layers' weights in their
format (bench.inputs.precision) and the embeddings and output layer in the
dtype; split over tensor x pipeline parallel GPUs) and
a reserve for activations, CUDA graphs and memory outside PyTorch come first;
the rest holds the KV cache, in blocks of 16 tokens. A batch fits when every
sequence of ISL + OSL tokens has its blocks at once; beyond that vLLM
preempts and recomputes, and the point would not be measuring that batch.

The reserve is an estimate (vLLM measures its own when it starts), so after
an engine starts, the KV capacity it reports decides instead (bench.offline).
"""

import math
from dataclasses import dataclass

import psutil

from bench.environment import on_cpu_backend
from bench.inputs.cards import ModelCard
from bench.inputs.params import head_dim
from bench.inputs.suite import EngineSettings

GIB = 1024**3
RESERVE_PER_GPU_BYTES = int(2.5 * GIB)  # activations of vLLM's profiling run, CUDA graphs, NCCL and CUDA context
BLOCK_TOKENS = 16  # vLLM's default KV block size on CUDA
CPU_BLOCK_TOKENS = 128  # the largest block vLLM's CPU backend uses
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "auto": 2, "float32": 4}
ESTIMATED_ENGINES = frozenset({"vllm"})  # engines with vLLM's paged KV cache, which this estimate models


def kv_bytes_per_token(config: dict, settings: EngineSettings) -> int:
    """KV cache bytes one token takes on one GPU: keys and values of its layers and KV heads there."""
    layers = math.ceil(config["num_hidden_layers"] / settings.pipeline_parallel_size)
    kv_heads = config.get("num_key_value_heads") or config["num_attention_heads"]
    heads = math.ceil(kv_heads / settings.tensor_parallel_size)  # fewer heads than GPUs: each GPU keeps one
    return math.ceil(2 * layers * heads * head_dim(config) * settings.precision.kv_bytes(DTYPE_BYTES[settings.dtype]))


def engine_memory_arguments(
    card: ModelCard, settings: EngineSettings, max_num_seqs: int | None
) -> dict[str, int | float]:
    """How much memory vLLM gives the KV cache: vLLM's keyword (`gpu_memory_utilization` or
    `kv_cache_memory_bytes`) and its value.

    On a GPU, or where the suite sets gpu_memory_utilization, the share of memory. On the CPU backend otherwise, a
    KV cache that holds `max_num_seqs` sequences at the engine's longest length (vLLM's own default of 256 when
    None), at most the default share of host memory: vLLM zeroes its whole cache as it starts, about 2 s a GiB
    here, so a tiny model given 7 GiB it never touches would start 12 s slower, with the same results.
    """
    on_cpu = on_cpu_backend()
    share = settings.memory_share(on_gpu=not on_cpu)
    if settings.gpu_memory_utilization is not None or not on_cpu:
        return {"gpu_memory_utilization": share}
    length = settings.max_model_len or card.max_context
    # A block of slack a sequence: vLLM's CPU backend allocates whole blocks of up to 128 tokens.
    needed = kv_bytes_per_token(card.config, settings) * (max_num_seqs or 256) * (length + CPU_BLOCK_TOKENS)
    return {"kv_cache_memory_bytes": min(needed, int(share * psutil.virtual_memory().total))}


def weight_bytes(card: ModelCard, settings: EngineSettings) -> int:
    """Bytes of the model's weights in the arm's precision, on all the engine's GPUs of one replica."""
    dtype_bytes = DTYPE_BYTES[settings.dtype]
    total = card.params.total
    if settings.precision.weights == "bf16":
        return total * dtype_bytes
    config = card.config
    tables = 1 if config.get("tie_word_embeddings") else 2  # the input embedding and the output layer
    kept = tables * config["vocab_size"] * config["hidden_size"]  # left in the dtype by every quantization here
    return math.ceil((total - kept) * settings.precision.weight_bytes(dtype_bytes) + kept * dtype_bytes)


@dataclass(frozen=True)
class Fit:
    """Memory of one GPU of the engine, as the estimate divides it (bytes)."""

    model: str
    gpu_memory: int
    budget: int  # gpu_memory x gpu_memory_utilization
    share: float  # gpu_memory_utilization
    weights: int
    reserve: int
    kv_per_token: int
    sequence_tokens: int  # ISL + OSL

    @property
    def kv_room(self) -> int:
        return max(0, self.budget - self.weights - self.reserve)

    @property
    def max_sequences(self) -> int:
        """Sequences of ISL + OSL tokens whose KV blocks fit at once, per engine replica."""
        blocks = self.kv_room // (self.kv_per_token * BLOCK_TOKENS)
        return blocks // math.ceil(self.sequence_tokens / BLOCK_TOKENS)

    def why_not(self, in_flight: int) -> str | None:
        """None when `in_flight` sequences per replica fit, else the reason in one line."""
        if self.weights + self.reserve > self.budget:
            return (
                f"{self.model}'s weights ({self.weights / GIB:.1f} GiB a GPU) and a {self.reserve / GIB:.1f} GiB "
                f"reserve exceed the {self.budget / GIB:.1f} GiB vLLM may use (gpu_memory_utilization "
                f"{self.share:g} of {self.gpu_memory / GIB:.1f} GiB)"
            )
        if in_flight > self.max_sequences:
            return (
                f"{in_flight} sequences of {self.sequence_tokens} tokens need more KV cache than the "
                f"{self.kv_room / GIB:.1f} GiB left a GPU, which holds {self.max_sequences}"
            )
        return None

    def describe(self, in_flight: int) -> str:
        verdict = self.why_not(in_flight)
        return verdict or (
            f"fits: weights {self.weights / GIB:.1f} GiB + reserve {self.reserve / GIB:.1f} GiB, "
            f"KV room {self.kv_room / GIB:.1f} GiB for {self.max_sequences} sequences of "
            f"{self.sequence_tokens} tokens"
        )


def estimate(card: ModelCard, settings: EngineSettings, sequence_tokens: int, gpu_memory_bytes: int) -> Fit:
    weights = weight_bytes(card, settings) // settings.gpus_per_replica
    return Fit(
        model=card.name,
        gpu_memory=gpu_memory_bytes,
        budget=int(gpu_memory_bytes * settings.memory_share(on_gpu=True)),
        share=settings.memory_share(on_gpu=True),
        weights=weights,
        reserve=RESERVE_PER_GPU_BYTES,
        kv_per_token=kv_bytes_per_token(card.config, settings),
        sequence_tokens=sequence_tokens,
    )


def in_flight_per_replica(batch_or_concurrency: int, settings: EngineSettings) -> int:
    """Sequences one replica holds when the engine runs this many: data parallel replicas share them."""
    return math.ceil(batch_or_concurrency / settings.data_parallel_size)


def sequences_in_blocks(num_blocks: int, block_size: int, sequence_tokens: int) -> int:
    """How many sequences of `sequence_tokens` fit in vLLM's real KV cache of `num_blocks` blocks (num_gpu_blocks):
    one block fewer, which vLLM keeps as its null block (vllm/v1/core/block_pool.py, 0.32:
    `self.null_block = self.free_block_queue.popleft()`)."""
    return max(num_blocks - 1, 0) // math.ceil(sequence_tokens / block_size)
