"""vLLM's CPU build runs an FP8 KV cache end to end: the arm is asked for, run, and recorded as vLLM ran it.

FP8 weights (vLLM's online FP8 quantization) need a GPU; they are tested down to the engine arguments
(tests/unit/bench/engines/test_vllm_offline.py, tests/unit/bench/serve/test_setup.py).
"""

import pytest

from bench.run.records import read_records
from tests.support.run_cli import tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]


def test_an_fp8_kv_cache_arm_runs_beside_bf16_and_records_what_vllm_used(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'models = ["tiny-dense"]\n'
        "batch_sizes = [2]\n"
        "min_window_s = 0.0\n"
        "prefill_probe = false\n"
        'precisions = [{ weights = "bf16" }, { weights = "bf16", kv_cache = "fp8" }]\n'
        "[workload]\nisl = 32\nosl = 8\nrequests_per_batch = 1\n"
        "[engine]\nenforce_eager = true\n"  # compiling (`make demo` does) would cost a minute here
    )
    result = tokencost("run", "--suite", suite, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bf16, fp8 = read_records(tmp_path / "run")
    assert (
        bf16.point == "tiny-dense/vllm/batch2/isl32/osl8"
        and fp8.point == "tiny-dense/vllm-bf16-kv-fp8/batch2/isl32/osl8"
    )
    assert (bf16.precision.kv_cache, bf16.precision.engine_kv_cache_dtype) == ("bf16", "auto")
    assert (fp8.precision.kv_cache, fp8.precision.engine_kv_cache_dtype) == ("fp8", "fp8")
    assert fp8.status == "ok" and fp8.output_tokens > 0
