"""Pre-quantized checkpoints named by model cards: parsed and refused in one line, and what vLLM is given."""

import shutil

import pytest

from bench.errors import UserError
from bench.inputs.cards import default_models_dir, load_card
from bench.inputs.checkpoints import CHECKPOINT_FORMATS, vllm_model_arguments, why_not_runnable
from bench.inputs.precision import Precision
from bench.inputs.suite import EngineSettings, load_suite
from bench.run.record import PrecisionInfo
from bench.serve.server import server_command

GOOD = '[checkpoints.int4]\nhf_id = "org/model-AWQ"\nsource = "its model page"\n'


def _card(tmp_path, card_toml: str):
    folder = tmp_path / "tiny-q"
    shutil.copytree(default_models_dir() / "tiny-dense", folder)
    (folder / "card.toml").write_text('kind = "dense"\n' + card_toml)
    return folder


def test_only_formats_vllm_cannot_quantize_to_take_a_checkpoint():
    assert CHECKPOINT_FORMATS == ("fp4", "int4")


def test_a_checkpoint_replaces_the_cards_folder_for_its_format_only(tmp_path):
    card = load_card(str(_card(tmp_path, GOOD)))
    int4 = vllm_model_arguments(card, Precision(weights="int4", kv_cache="fp8"))
    assert int4 == {"model": "org/model-AWQ", "load_format": "dummy", "quantization": None, "kv_cache_dtype": "fp8"}
    fp8 = vllm_model_arguments(card, Precision(weights="fp8"))
    assert fp8["model"] == str(card.path) and fp8["quantization"] == "fp8"  # vLLM quantizes online
    assert why_not_runnable(card, Precision(weights="int4")) is None
    assert "has no [checkpoints.fp4]" in why_not_runnable(card, Precision(weights="fp4"))


def test_a_named_quantization_method_is_passed_to_the_server(tmp_path):
    card = load_card(str(_card(tmp_path, GOOD + 'quantization = "awq_marlin"\n')))
    text = " ".join(server_command(card, EngineSettings(precision=Precision(weights="int4")), 8123, 4))
    assert "--model org/model-AWQ" in text and "--quantization awq_marlin" in text
    plain = " ".join(server_command(card, EngineSettings(), 8123, 4))
    assert f"--model {card.path}" in plain and "--quantization" not in plain


@pytest.mark.parametrize(
    "card_toml, field",
    [
        ("checkpoints = 3\n", "checkpoints"),
        ('[checkpoints.fp8]\nhf_id = "a/b"\nsource = "s"\n', "checkpoints.fp8"),
        ('[checkpoints.int4]\nsource = "s"\n', "checkpoints.int4.hf_id"),
        ('[checkpoints.int4]\nhf_id = "a/b"\n', "checkpoints.int4.source"),
        ('[checkpoints.int4]\nhf_id = 4\nsource = "s"\n', "checkpoints.int4.hf_id"),
        ('[checkpoints.int4]\nhf_id = "no-org"\nsource = "s"\n', "checkpoints.int4.hf_id"),
        ('[checkpoints.int4]\nhf_id = "a/b"\nsource = "s"\nrevision = "x"\n', "checkpoints.int4.revision"),
        ("[checkpoints]\nint4 = 1\n", "checkpoints.int4"),
    ],
)
def test_a_bad_checkpoint_table_is_refused_in_one_line_naming_it(tmp_path, card_toml, field):
    with pytest.raises(UserError) as error:
        load_card(str(_card(tmp_path, card_toml)))
    assert error.value.field.endswith(f"card.toml {field}") and "\n" not in str(error.value)


def test_a_run_takes_a_4_bit_arm_only_for_models_whose_cards_name_a_checkpoint(tmp_path):
    def suite(models: str):
        path = tmp_path / "suite.toml"
        path.write_text(f'models = {models}\nprecisions = [{{ weights = "int4" }}]\n')
        return load_suite(path)

    suite('["llama-3.1-8b", "qwen3-8b"]').check_runnable()  # both cards name an int4 checkpoint
    with pytest.raises(UserError, match=r"^precisions: int4 weights need .* qwen3-32b's card.toml has no"):
        suite('["llama-3.1-8b", "qwen3-32b"]').check_runnable()


def test_the_record_says_which_checkpoint_a_point_ran_from():
    info = PrecisionInfo(weights="int4", kv_cache="bf16", checkpoint="org/model-AWQ")
    assert info.checkpoint == "org/model-AWQ"
    assert PrecisionInfo(weights="bf16", kv_cache="bf16").checkpoint is None  # older records lack it


def test_a_dry_run_plans_a_4_bit_arm_where_a_checkpoint_is_named_and_the_gpu_can_run_it(tmp_path):
    from tests.support.cli import tokencost

    suite = tmp_path / "suite.toml"
    suite.write_text(
        'models = ["llama-3.1-8b", "qwen3-32b"]\nbatch_sizes = [8]\n'
        'precisions = [{ weights = "int4" }, { weights = "fp4" }]\n'
    )
    done = tokencost("run", "--dry-run", "--suite", suite, "--gpu", "b200", "--out", tmp_path / "never")
    assert done.returncode == 1 and "2 of 4 points would run" in done.stdout, done.stderr  # 1: some would not
    verdict = {line.split(":")[0].strip(): line for line in done.stdout.splitlines() if "/vllm-" in line}
    assert "fits" in verdict["llama-3.1-8b/vllm-int4/batch8/isl128/osl128"]
    assert "fits" in verdict["llama-3.1-8b/vllm-fp4/batch8/isl128/osl128"]
    assert "card.toml has no [checkpoints.int4]" in verdict["qwen3-32b/vllm-int4/batch8/isl128/osl128"]
