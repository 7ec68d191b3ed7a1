"""A model named by its Hugging Face id is the card its cached config.json gives, offline; never the network."""

import json

import pytest

from bench.errors import UserError
from bench.inputs.cards import default_models_dir, load_card, named_card
from bench.inputs.hub import is_hub_id
from tests.support.hub_cache import cache_config

QWEN = default_models_dir() / "qwen3-8b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Qwen/Qwen3-8B", True),
        ("allenai/OLMoE-1B-7B-0924", True),
        ("qwen3-8b", False),  # a card of the models folder
        ("./Qwen/Qwen3-8B", False),  # a folder, said so
        ("/abs/path", False),
        ("a/b/c", False),
        ("org/na me", False),
        ("org/name--x", False),
        ("org/", False),
    ],
)
def test_what_is_spelled_as_a_hugging_face_id(text, expected):
    assert is_hub_id(text) is expected


def test_a_cached_id_is_the_card_its_config_gives_offline(offline_hub):
    snapshot = cache_config(offline_hub, "Qwen/Qwen3-8B", QWEN / "config.json")
    card, local = load_card("Qwen/Qwen3-8B"), load_card("qwen3-8b")
    assert (card.name, card.hf_id, card.path, card.file_name) == ("Qwen/Qwen3-8B",) * 2 + (snapshot, "Qwen-Qwen3-8B")
    assert (card.config, card.params, card.kind) == (local.config, local.params, local.kind)
    assert named_card("Qwen/Qwen3-8B", "--model") == card


def test_a_folder_of_that_path_comes_before_the_hub(offline_hub, tmp_path, monkeypatch):
    cache_config(offline_hub, "Qwen/Qwen3-8B", QWEN / "config.json")
    folder = tmp_path / "Qwen" / "Qwen3-8B"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((default_models_dir() / "tiny-dense" / "config.json").read_text())
    monkeypatch.chdir(tmp_path)
    card = load_card("Qwen/Qwen3-8B")
    assert card.name == str(folder.resolve()) and card.hf_id is None and card.params.total < 1e9


def test_an_id_missing_offline_is_one_line_naming_the_flag_and_the_fix(offline_hub):
    with pytest.raises(UserError) as caught:
        named_card("nobody/nothing", "--model")
    assert str(caught.value) == (
        "--model: nobody/nothing is no folder here and not in the local Hugging Face cache (HF_HUB_OFFLINE is set); "
        "run the command once online to fetch its config.json, or give a local card folder"
    )


def test_without_fetching_an_uncached_id_is_refused_and_the_hub_is_not_asked(offline_hub, monkeypatch):
    """Pricing loads a record's card by name without fetching: an imported file's model id costs no request."""
    import huggingface_hub

    def no_request(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_request)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(UserError, match=r"^model: nobody/nothing is neither a card folder nor a Hugging Face model"):
        load_card("nobody/nothing")


def test_a_cached_config_that_describes_no_model_is_refused_naming_its_field(offline_hub, tmp_path):
    broken = tmp_path / "config.json"
    broken.write_text(json.dumps(json.loads((QWEN / "config.json").read_text()) | {"vocab_size": 0}))
    cache_config(offline_hub, "org/broken", broken)
    with pytest.raises(UserError, match=r"^org/broken/config.json vocab_size: "):
        load_card("org/broken")
