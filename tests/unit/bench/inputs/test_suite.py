"""Suite files and command-line overrides, validated by schema."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import UserError
from bench.inputs.suite import Suite, load_suite, with_overrides
from tests.support.examples import examples


def _write(tmp_path, text):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_the_embedded_defaults_are_the_cpu_demo():
    suite = load_suite(None)
    assert suite.models == ("tiny-dense", "tiny-moe") and suite.batch_sizes == (1, 16, 64)
    assert suite.engines == ("vllm",)
    # Eight points in all: three random batch sizes and the shared-prefix point at batch 16, per model.
    points = [(m, w.kind, b) for m in suite.models for w in suite.workloads for b in suite.batch_sizes_for(w)]
    assert len(points) == 8 and ("tiny-moe", "shared-prefix", 16) in points
    assert suite.min_window_s == 5.0  # half a suite file's default: the CPU meter samples every 0.1 s


def test_a_suite_file_round_trips_through_its_record(tmp_path):
    suite = load_suite(
        _write(
            tmp_path,
            'models = ["tiny-moe"]\nbatch_sizes = [2, 8]\n[workload]\nisl = 64\n[engine]\nenforce_eager = true\n',
        )
    )
    assert (suite.models, suite.batch_sizes, suite.workload.isl, suite.engine.enforce_eager) == (
        ("tiny-moe",),
        (2, 8),
        64,
        True,
    )
    assert Suite.model_validate(suite.to_record()) == suite


@pytest.mark.parametrize(
    "text, message",
    [
        ("batch_sizes = []", r"batch_sizes: is \(\) ?; tuple should have at least 1 item|batch_sizes: is \[\]; "),
        ("batch_sizes = [4, -1]", r"batch_sizes.1: is -1; input should be greater than 0"),
        ('batch_sizes = ["4"]', r"batch_sizes.0: is '4'; input should be a valid integer"),
        ("[workload]\nisl = 0", r"workload.isl: is 0; input should be greater than 0"),
        (
            "[workload]\nbatch = 3",
            r"workload.batch: is not a setting; use one of: batch_sizes, isl, kind, lengths, multi_turn, osl, "
            r"requests_per_batch, seed, shared_prefix, trace",
        ),
        ('[engine]\ndtype = "int3"', r"engine.dtype: is 'int3'; input should be 'auto', 'bfloat16'"),
        ("[engine]\ngpu_memory_utilization = 1.5", r"engine.gpu_memory_utilization: is 1.5; input should be less"),
        ("colour = 1", r"colour: is not a setting; use one of: batch_sizes, engine"),
        ("models = [", r"^--suite: .* is not valid TOML"),
    ],
)
def test_bad_suites_name_the_field_the_value_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_suite(_write(tmp_path, text))


def test_command_line_overrides_are_validated_too():
    suite = with_overrides(Suite(), models=["tiny-moe"], batch_sizes=[3], isl=16, osl=None)
    assert (suite.models, suite.batch_sizes, suite.workload.isl, suite.workload.osl) == (("tiny-moe",), (3,), 16, 128)
    with pytest.raises(UserError, match=r"^command line workload.osl: is -5; input should be greater than 0"):
        with_overrides(Suite(), osl=-5)


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_either_parses_or_is_a_user_error(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    try:
        load_suite(path)
    except UserError as e:
        assert "\n" not in str(e)


toml_values = st.recursive(
    st.one_of(st.integers(-10, 10_000), st.floats(allow_nan=False), st.booleans(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=examples(300))
@given(
    st.dictionaries(
        st.sampled_from(
            ["models", "batch_sizes", "workload", "engine", "warmup", "min_window_s", "point_timeout_s", "other"]
        ),
        toml_values,
        max_size=5,
    )
)
def test_any_structure_either_validates_or_is_a_user_error(data):
    from bench.validation import parse

    try:
        parse(Suite, data, "suite")
    except UserError as e:
        assert "\n" not in str(e)


def test_shipped_suites_parse_and_name_real_cards_that_fit():
    from pathlib import Path

    import bench
    from bench.inputs.cards import load_card

    suites = sorted((Path(bench.__file__).parent / "suites").glob("*.toml"))
    assert suites
    for path in suites:
        suite = load_suite(path)
        for name in suite.models:
            card = load_card(name)
            suite.workload.check_fits(suite.engine.max_model_len or card.max_context, card.name)


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"engine": {"data_parallel_size": 2}},
            "^engine.data_parallel_size: is 2 in offline mode, where vLLM runs one replica; use mode = 'serve'",
        ),
        (
            {"engines": ["vllm", "transformers"], "engine": {"tensor_parallel_size": 2}},
            "^engines: the transformers baseline runs on one GPU, and the \\[engine\\] settings ask for 2",
        ),
        (
            {"mode": "serve", "serve": {"server_args": ["--data-parallel-size=2"]}},
            "^serve.server_args: --data-parallel-size would change how many GPUs .*; set \\[engine\\] data_parallel_size",
        ),
        ({"mode": "serve", "serve": {"server_args": ["-tp", "2"]}}, "set \\[engine\\] tensor_parallel_size instead"),
    ],
)
def test_settings_that_do_not_go_together_are_refused_before_anything_starts(settings, message):
    with pytest.raises(UserError, match=message):
        Suite(**settings).check()


def test_the_gpus_an_engine_uses_are_tensor_x_pipeline_x_data_parallel():
    suite = Suite(
        mode="serve", engine={"tensor_parallel_size": 2, "pipeline_parallel_size": 2, "data_parallel_size": 2}
    )
    suite.check()
    assert (suite.engine.gpus_per_replica, suite.engine.gpus) == (4, 8)


def test_a_suite_pair_overrides_the_cards_own():
    suite = Suite(models=["qwen3-8b", "qwen3-30b-a3b"], pairs={"qwen3-30b-a3b": "qwen3-8b"})
    suite.check()
    assert suite.pair_of("qwen3-30b-a3b", "qwen3-32b") == "qwen3-8b"
    assert suite.pair_of("olmoe-1b-7b", "llama-3.1-8b") == "llama-3.1-8b"


def test_a_point_cannot_be_asked_to_last_beyond_an_hour():
    with pytest.raises(UserError, match="^command line min_window_s: is 1000000000000000.0; input should be less"):
        with_overrides(load_suite(None), min_window_s=1e15)
    assert with_overrides(load_suite(None), min_window_s=0).min_window_s == 0


def test_precisions_are_an_axis_read_from_the_suite_file(tmp_path):
    from bench.inputs.precision import Precision

    path = _write(tmp_path, 'precisions = [{ weights = "bf16" }, { weights = "fp8", kv_cache = "fp8" }]\n')
    suite = load_suite(path)
    assert suite.precisions == (Precision(), Precision(weights="fp8", kv_cache="fp8"))
    assert suite.engine_for(suite.precisions[1]).precision.vllm_arguments() == {
        "quantization": "fp8",
        "kv_cache_dtype": "fp8",
    }
    assert load_suite(None).precisions == (Precision(),)  # bf16 alone by default


@pytest.mark.parametrize(
    "text, message",
    [
        ('precisions = [{ weights = "fp6" }]', "precisions"),
        ('precisions = [{ weights = "fp8", kv = "fp8" }]', "precisions"),
        ("precisions = []", "precisions"),
        ('precisions = [{ weights = "fp8" }, { weights = "fp8" }]', "more than once"),
        ('[engine]\nprecision = { weights = "fp8" }', "^engine.precision: is set per arm"),
        (
            'mode = "serve"\nprecisions = [{ weights = "bf16" }, { weights = "fp8" }]',
            "^precisions: names 2 arms, and serving mode measures one a run",
        ),
        (
            'engines = ["transformers"]\nprecisions = [{ weights = "fp8" }]',
            "^precisions: the transformers baseline runs unquantized only",
        ),
    ],
)
def test_bad_precision_axes_are_one_line_before_anything_starts(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as error:
        load_suite(_write(tmp_path, text)).check()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("weights", ["fp4", "int4"])
def test_a_run_refuses_what_vllm_cannot_quantize_to_and_a_dry_run_plans_it(tmp_path, weights):
    suite = load_suite(_write(tmp_path, f'precisions = [{{ weights = "{weights}" }}]'))
    suite.check()  # what a dry run checks: it names these points' reason one by one
    with pytest.raises(UserError, match=f"^precisions: {weights} weights need a checkpoint quantized to {weights}"):
        suite.check_runnable()
