"""Parameter counts computed from a Hugging Face config.

Counts embeddings, attention (with optional biases and q/k norms), dense or
expert MLPs, routers and norms. "Active" parameters are those one token
touches: every weight except the experts a token is not routed to.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ParamCount:
    total: int
    active: int
    embedding: int
    attention: int
    mlp_total: int
    mlp_active: int
    router: int
    norms: int

    @property
    def is_moe(self) -> bool:
        return self.mlp_total != self.mlp_active


@dataclass(frozen=True)
class MoeShape:
    num_experts: int
    top_k: int
    expert_intermediate: int
    shared_intermediate: int  # 0 when the model has no shared expert


REQUIRED_DIMENSIONS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")
OPTIONAL_DIMENSIONS = ("num_key_value_heads", "head_dim", "max_position_embeddings", "moe_intermediate_size")
EXPERT_KEYS = ("num_local_experts", "num_experts")
# The largest value each dimension may take: far above any published model (vocabularies reach ~260k, hidden
# sizes ~25k, contexts 10M), far below what overflows a count or a memory estimate. Like a suite's caps, they
# refuse a typo (2**70) before it reaches a parameter count, a fit estimate or an engine.
MAX_DIMENSION = {
    "hidden_size": 2**18,
    "num_hidden_layers": 2**12,
    "num_attention_heads": 2**12,
    "vocab_size": 2**24,
    "intermediate_size": 2**20,
    "num_key_value_heads": 2**12,
    "head_dim": 2**14,
    "max_position_embeddings": 2**28,
    "moe_intermediate_size": 2**20,
    "num_experts_per_tok": 2**14,
    "shared_expert_intermediate_size": 2**20,
    "decoder_sparse_step": 2**12,
    "num_local_experts": 2**14,
    "num_experts": 2**14,
}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no count


def config_problem(config: dict, min_vocab: int = 1) -> tuple[str, str, str] | None:
    """The first thing that keeps `config` from describing a model, as (key, problem, fix); None if it can.

    Checked when a card loads, so counts, fit estimates and engines never see an impossible shape."""
    architectures = config.get("architectures")
    if architectures is not None and (
        not isinstance(architectures, list)
        or not architectures
        or not all(isinstance(a, str) and a for a in architectures)
    ):
        return "architectures", f"is {_short(architectures)}", 'give a list of class names, e.g. ["LlamaForCausalLM"]'
    for key, cap in MAX_DIMENSION.items():
        if _is_count(config.get(key)) and config[key] > cap:
            return key, f"is {config[key]}, above {cap}", f"give the model's real {key} (at most {cap})"
    for key in REQUIRED_DIMENSIONS:
        if not _is_count(config.get(key)) or config[key] <= 0:
            return key, f"is {config.get(key)!r}", "give a positive integer"
    for key in OPTIONAL_DIMENSIONS + ("num_experts_per_tok",):
        # null is read as absent, as the parameter count, roofline and fit read it
        if config.get(key) is not None and (not _is_count(config[key]) or config[key] <= 0):
            return key, f"is {config[key]!r}", "give a positive integer, or leave it out"
    for key in ("shared_expert_intermediate_size", "decoder_sparse_step"):
        if config.get(key) is not None and (not _is_count(config[key]) or config[key] < 0):
            return key, f"is {config[key]!r}", "give 0 or a positive integer, or leave it out"
    layers = config.get("mlp_only_layers")
    if layers is not None and (not isinstance(layers, list) or not all(_is_count(i) for i in layers)):
        return "mlp_only_layers", f"is {layers!r}", "give a list of layer indices"
    if config["vocab_size"] < min_vocab:
        return (
            "vocab_size",
            f"is {config['vocab_size']}, fewer than the {min_vocab} ids prompts need",
            f"give at least {min_vocab} (ids below {min_vocab - 1} are kept for special tokens)",
        )
    heads = config["num_attention_heads"]
    if config.get("head_dim") is None and config["hidden_size"] % heads:
        return (
            "num_attention_heads",
            f"{heads} heads do not divide hidden_size {config['hidden_size']}",
            "give head_dim, or a head count that divides hidden_size",
        )
    kv_heads = config.get("num_key_value_heads") or heads
    if heads % kv_heads:
        return (
            "num_key_value_heads",
            f"{kv_heads} KV heads do not divide {heads} attention heads",
            "give a number of KV heads that divides num_attention_heads",
        )
    for key in EXPERT_KEYS:
        if config.get(key) is not None and (not _is_count(config[key]) or config[key] <= 0):
            # 0 is refused too: a dense model leaves the key out, and 0 would hide a typo as a dense model.
            return key, f"is {config[key]!r}", "give the number of experts, or leave it out for a dense model"
    experts = next((config[key] for key in EXPERT_KEYS if key in config), None)
    if experts is not None:
        top_k = config.get("num_experts_per_tok")
        if top_k is None:
            return (
                "num_experts_per_tok",
                f"is missing for a model with {experts} experts",
                "give the experts each token is routed to",
            )
        if top_k > experts:
            return "num_experts_per_tok", f"is {top_k}, more than the {experts} experts", f"give at most {experts}"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def moe_shape(config: dict) -> MoeShape | None:
    """The expert layout of a config, or None for a dense model."""
    num_experts = config.get("num_local_experts") or config.get("num_experts") or 0
    if not num_experts:
        return None
    expert_intermediate = config.get("moe_intermediate_size") or config["intermediate_size"]
    return MoeShape(
        num_experts=num_experts,
        top_k=config["num_experts_per_tok"],
        expert_intermediate=expert_intermediate,
        shared_intermediate=config.get("shared_expert_intermediate_size") or 0,
    )


def head_dim(config: dict) -> int:
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def _attention_params(config: dict) -> int:
    hidden = config["hidden_size"]
    q_dim = config["num_attention_heads"] * head_dim(config)
    kv_dim = (config.get("num_key_value_heads") or config["num_attention_heads"]) * head_dim(config)
    params = hidden * q_dim + 2 * hidden * kv_dim + q_dim * hidden
    if config.get("attention_bias") or config.get("model_type") in ("qwen2", "qwen2_moe"):
        params += q_dim + 2 * kv_dim
    model_type = config.get("model_type", "")
    if model_type in ("qwen3", "qwen3_moe"):
        params += 2 * head_dim(config)  # per-head RMSNorm on q and k
    elif model_type == "olmoe":
        params += q_dim + kv_dim  # RMSNorm over the whole q and k projections
    return params


def gated_mlp_params(hidden: int, intermediate: int) -> int:
    return 3 * hidden * intermediate  # gate, up and down projections


def sparse_layers(config: dict) -> set[int]:
    """Indices of the layers whose MLP is a mixture of experts."""
    layers = config["num_hidden_layers"]
    step = config.get("decoder_sparse_step", 1) or 1
    dense_only = set(config.get("mlp_only_layers") or [])
    return {i for i in range(layers) if (i + 1) % step == 0 and i not in dense_only}


def count_params(config: dict) -> ParamCount:
    hidden = config["hidden_size"]
    layers = config["num_hidden_layers"]
    vocab = config["vocab_size"]

    embedding = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    attention = layers * _attention_params(config)
    norms = (2 * layers + 1) * hidden

    moe = moe_shape(config)
    sparse = sparse_layers(config) if moe else set()
    dense_layers = layers - len(sparse)
    dense_mlp = dense_layers * gated_mlp_params(hidden, config["intermediate_size"])
    mlp_total = mlp_active = dense_mlp
    router = 0
    if moe:
        expert = gated_mlp_params(hidden, moe.expert_intermediate)
        shared = gated_mlp_params(hidden, moe.shared_intermediate)
        shared_gate = hidden if moe.shared_intermediate else 0
        mlp_total += len(sparse) * (moe.num_experts * expert + shared + shared_gate)
        mlp_active += len(sparse) * (moe.top_k * expert + shared + shared_gate)
        router = len(sparse) * hidden * moe.num_experts

    fixed = embedding + attention + norms + router
    return ParamCount(
        total=fixed + mlp_total,
        active=fixed + mlp_active,
        embedding=embedding,
        attention=attention,
        mlp_total=mlp_total,
        mlp_active=mlp_active,
        router=router,
        norms=norms,
    )
