"""A model card that cannot describe a model is refused when it loads, in one line naming CARD/config.json FIELD;
and a bare card name always means the models folder's card, whatever the current directory holds."""

import json
import re
import shutil

import pytest

from bench.errors import UserError
from bench.inputs.cards import default_models_dir, load_card

DROP = object()  # remove the key

# Changes to tiny-moe's config (8 experts, top-2, 4 heads of 64 over hidden 256, 2 KV heads), and the field named.
BROKEN = {
    "zero-experts": ({"num_experts": 0}, "num_experts"),
    "negative-experts": ({"num_experts": -8}, "num_experts"),
    "experts-as-string": ({"num_experts": "8"}, "num_experts"),
    "experts-as-bool": ({"num_experts": True}, "num_experts"),
    "zero-local-experts": ({"num_experts": DROP, "num_local_experts": 0}, "num_local_experts"),
    "topk-above-experts": ({"num_experts_per_tok": 9}, "num_experts_per_tok"),
    "topk-zero": ({"num_experts_per_tok": 0}, "num_experts_per_tok"),
    "moe-without-topk": ({"num_experts_per_tok": DROP}, "num_experts_per_tok"),
    "heads-not-dividing": (
        {"num_attention_heads": 7, "num_key_value_heads": 7, "head_dim": DROP},
        "num_attention_heads",
    ),
    "zero-kv-heads": ({"num_key_value_heads": 0}, "num_key_value_heads"),
    "negative-kv-heads": ({"num_key_value_heads": -2}, "num_key_value_heads"),
    "kv-not-dividing-heads": ({"num_key_value_heads": 3}, "num_key_value_heads"),
    "vocab-below-reserved-ids": ({"vocab_size": 4}, "vocab_size"),
    "float-layers": ({"num_hidden_layers": 2.5}, "num_hidden_layers"),
    "bool-hidden": ({"hidden_size": True}, "hidden_size"),
    "string-context": ({"max_position_embeddings": "4096"}, "max_position_embeddings"),
    "zero-head-dim": ({"head_dim": 0}, "head_dim"),
    "layers-not-a-list": ({"mlp_only_layers": "0,1"}, "mlp_only_layers"),
}


def _card(models, name, base="tiny-moe", **changes):
    shutil.copytree(default_models_dir() / base, models / name)
    config = json.loads((models / name / "config.json").read_text())
    for key, value in changes.items():
        config.pop(key, None) if value is DROP else config.__setitem__(key, value)
    (models / name / "config.json").write_text(json.dumps(config))
    return models / name


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_card_that_cannot_describe_a_model_is_refused_naming_its_field(tmp_path, name):
    changes, field = BROKEN[name]
    _card(tmp_path, name, **changes)
    with pytest.raises(UserError) as caught:
        load_card(name, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{name}/config.json {field}: "), message
    assert "\n" not in message and "; " in message


def test_the_smallest_vocabulary_prompts_can_use_is_accepted(tmp_path):
    _card(tmp_path, "five-ids", vocab_size=5)  # ids 0-3 reserved, 4 the one ordinary token
    assert load_card("five-ids", tmp_path).vocab_size == 5


def test_heads_need_not_divide_the_hidden_size_when_head_dim_is_given(tmp_path):
    _card(tmp_path, "wide-heads", num_attention_heads=6, num_key_value_heads=2, head_dim=64)
    assert load_card("wide-heads", tmp_path).params.attention > 0


def test_a_card_toml_field_of_the_wrong_type_is_refused(tmp_path):
    path = _card(tmp_path, "odd-meta")
    (path / "card.toml").write_text('kind = "moe"\npairs_with = 3\n')
    with pytest.raises(UserError, match=r"^odd-meta/card.toml pairs_with: is 3; give it as a string"):
        load_card("odd-meta", tmp_path)


def test_a_bare_name_is_the_models_folder_card_even_with_a_folder_of_that_name_here(tmp_path, monkeypatch):
    models = tmp_path / "models"
    _card(models, "tiny-dense", base="tiny-dense")
    _card(tmp_path / "here", "tiny-dense", base="tiny-dense", vocab_size=1)  # a broken folder in the cwd
    monkeypatch.chdir(tmp_path / "here")
    assert load_card("tiny-dense", models).path == models / "tiny-dense"
    # said to be a path: the folder here, named by its whole path, never to be taken for the models folder's card
    here = re.escape(str(tmp_path / "here" / "tiny-dense"))
    with pytest.raises(UserError, match=rf"^{here}/config.json vocab_size: "):
        load_card("./tiny-dense", models)


def test_a_path_that_is_no_card_folder_says_so(tmp_path):
    with pytest.raises(UserError, match=r"^model: ./nowhere is not a card folder"):
        load_card("./nowhere", tmp_path)
    with pytest.raises(UserError, match=r"^model: no model card named ''"):
        load_card("", tmp_path)


def test_a_card_folder_is_named_by_what_loads_it_again(tmp_path, monkeypatch):
    """A run keys its points by the card's name and loads the card by it again (resuming, reporting): a card of
    the models folder is its folder's name, one elsewhere its absolute path, never a bare name that could mean
    the models folder's card of that name."""
    models = tmp_path / "models"
    _card(models, "tiny-dense", base="tiny-dense")
    _card(tmp_path / "elsewhere", "tiny-dense", base="tiny-moe")  # the same folder name, another model
    monkeypatch.chdir(tmp_path)
    assert load_card(str(models / "tiny-dense"), models).name == "tiny-dense"
    assert load_card("./models/tiny-dense", models).name == "tiny-dense"
    elsewhere = load_card("elsewhere/tiny-dense", models)
    assert elsewhere.name == str((tmp_path / "elsewhere" / "tiny-dense").resolve())
    assert elsewhere.file_name == elsewhere.name.replace("/", "-").strip("-")
    again = load_card(elsewhere.name, models)
    assert elsewhere.kind == "moe" and (again.name, again.config) == (elsewhere.name, elsewhere.config)
    assert load_card("tiny-dense", models).kind == "dense"


def test_a_bare_name_missing_from_the_models_folder_points_at_the_folder_here(tmp_path, monkeypatch):
    _card(tmp_path / "here", "my-card", base="tiny-dense")
    monkeypatch.chdir(tmp_path / "here")
    with pytest.raises(UserError, match=r"^model: no model card named 'my-card'; use one of: .*, or ./my-card for"):
        load_card("my-card", tmp_path / "models")
    assert load_card("./my-card", tmp_path / "models").path.name == "my-card"


def test_a_null_kv_head_count_reads_as_absent_like_everywhere_else(tmp_path):
    _card(tmp_path, "null-kv", num_key_value_heads=None)  # then every head has its own K and V, as in MHA
    heads = load_card("null-kv", tmp_path).config["num_attention_heads"]
    _card(tmp_path, "mha", num_key_value_heads=heads)
    assert load_card("null-kv", tmp_path).params == load_card("mha", tmp_path).params
