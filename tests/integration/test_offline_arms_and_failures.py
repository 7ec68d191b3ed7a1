"""One offline run through real vLLM (CPU build here), shared by three behaviours so that it starts its engines once:

- an FP8 KV cache arm runs beside BF16 and is recorded as vLLM ran it (FP8 weights, vLLM's online FP8
  quantization, need a GPU: tests/unit/bench/engines/test_vllm_offline.py, tests/unit/bench/serve/test_setup.py);
- a config-only card, as every GPU card is (no tokenizer), runs with vLLM's tokenizer skipped and generates exactly
  the tokens asked (its serving twin: tests/integration/test_tokenizerless.py);
- a model whose engine cannot start fails its points and ends the run with one error line, keeping the points
  measured before it.
"""

import json
import os
import shutil

import pandas as pd
import pytest

from bench.inputs.cards import default_models_dir
from bench.run.records import read_records
from tests.integration.conftest import copy_without_tokenizer
from tests.support.run_cli import tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]

ISL, OSL = 32, 8
SUITE = (
    'engines = ["vllm"]\n'
    'models = ["tiny-bare", "broken"]\n'
    "batch_sizes = [2]\n"
    "min_window_s = 0.0\n"
    "prefill_probe = false\n"
    'precisions = [{ weights = "bf16" }, { weights = "bf16", kv_cache = "fp8" }]\n'
    f"[workload]\nisl = {ISL}\nosl = {OSL}\nrequests_per_batch = 1\n"
    "[engine]\nenforce_eager = true\n"  # compiling (`make demo` does) would cost a minute here
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    # tiny-dense without its tokenizer files; and a copy whose architecture no vLLM knows.
    copy_without_tokenizer(models)
    shutil.copytree(default_models_dir() / "tiny-dense", models / "broken")
    config = json.loads((models / "broken" / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForCausalLM"]
    (models / "broken" / "config.json").write_text(json.dumps(config))
    suite = models / "suite.toml"
    suite.write_text(SUITE)
    run_dir = tmp_path_factory.mktemp("run") / "run"
    result = tokencost(
        "run", "--suite", suite, "--out", run_dir, env=os.environ | {"TOKENCOST_MODELS_DIR": str(models)}
    )
    return run_dir, result


def test_an_fp8_kv_cache_arm_runs_beside_bf16_and_records_what_vllm_used(run):
    run_dir, _ = run
    bf16, fp8 = read_records(run_dir)[:2]
    assert (
        bf16.point == f"tiny-bare/vllm/batch2/isl{ISL}/osl{OSL}"
        and fp8.point == f"tiny-bare/vllm-bf16-kv-fp8/batch2/isl{ISL}/osl{OSL}"
    )
    assert (bf16.precision.kv_cache, bf16.precision.engine_kv_cache_dtype) == ("bf16", "auto")
    assert (fp8.precision.kv_cache, fp8.precision.engine_kv_cache_dtype) == ("fp8", "fp8")
    assert fp8.status == "ok" and fp8.output_tokens > 0


def test_a_card_without_a_tokenizer_generates_exactly_the_requested_tokens(run):
    run_dir, _ = run
    for record in read_records(run_dir)[:2]:
        assert record.status == "ok" and record.model.name == "tiny-bare"
        assert record.engine.skip_tokenizer_init is True
        assert record.num_requests == 2 and record.output_tokens == 2 * OSL and record.input_tokens == 2 * ISL


def test_an_engine_that_cannot_start_keeps_earlier_points(run):
    run_dir, result = run
    assert result.returncode == 2
    # One error line; multiprocessing's resource tracker may still warn after it, at the interpreter's exit.
    errors = [line for line in result.stderr.splitlines() if line.startswith("tokencost: error:")]
    assert len(errors) == 1 and errors[0].startswith("tokencost: error: model broken: the engine could not start")
    records = read_records(run_dir)
    assert [(r.model.name, r.status) for r in records] == [("tiny-bare", "ok")] * 2 + [("broken", "failed")] * 2
    for failed in records[2:]:
        assert failed.failure == "engine-start" and "could not start" in failed.error
    assert len(pd.read_csv(run_dir / "costs.csv")) == 2
