"""Parameter counts computed from configs against published totals."""

import pytest

from bench.inputs.cards import list_card_names, load_card
from bench.inputs.params import count_params

PUBLISHED = [name for name in list_card_names() if not name.startswith("tiny")]


@pytest.mark.parametrize("name", PUBLISHED)
def test_counts_match_published_totals_within_two_percent(name):
    card = load_card(name)
    meta = __import__("tomllib").loads((card.path / "card.toml").read_text())
    total_b = card.params.total / 1e9
    assert total_b == pytest.approx(meta["published_total_params_b"], rel=0.02)
    if "published_active_params_b" in meta:
        assert card.params.active / 1e9 == pytest.approx(meta["published_active_params_b"], rel=0.02)


def test_the_six_required_real_architectures_are_shipped():
    assert {"llama-3.1-8b", "qwen3-8b", "qwen3-32b", "qwen3-30b-a3b", "olmoe-1b-7b", "mixtral-8x7b"} <= set(PUBLISHED)


def test_dense_model_has_all_parameters_active():
    card = load_card("qwen3-8b")
    assert card.kind == "dense"
    assert card.params.active == card.params.total


def test_hand_counted_small_moe():
    config = {
        "model_type": "mixtral",
        "vocab_size": 10,
        "hidden_size": 4,
        "intermediate_size": 6,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "tie_word_embeddings": False,
    }
    c = count_params(config)
    # embeddings: 10*4 in + 10*4 out; attention per layer: q 4*4, k 4*2, v 4*2, o 4*4 = 48
    # experts per layer: 4 * 3*4*6 = 288 (active 2 of them = 144); router 4*4 = 16; norms 2*2*4 + 4
    assert c.embedding == 80
    assert c.attention == 2 * 48
    assert c.mlp_total == 2 * 288 and c.mlp_active == 2 * 144
    assert c.router == 2 * 16
    assert c.norms == 20
    assert c.total == 80 + 96 + 576 + 32 + 20
    assert c.active == c.total - 2 * 144


def test_tiny_moe_has_more_total_and_fewer_active_parameters_than_tiny_dense():
    dense, moe = load_card("tiny-dense"), load_card("tiny-moe")
    assert moe.kind == "moe" and moe.pairs_with == "tiny-dense"
    assert moe.params.total > dense.params.total
    assert moe.params.active < dense.params.active
