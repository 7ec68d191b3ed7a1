"""Config-only cards, as every GPU card is: no tokenizer, so vLLM runs with its tokenizer skipped.

The server is started with --skip-tokenizer-init and must still stream token ids and usage; it runs here for
real on vLLM's CPU build, with a copy of tiny-dense that lacks its tokenizer files. The offline engine's twin
(skip_tokenizer_init) shares a run with other offline cases: tests/integration/test_offline_arms_and_failures.py.
"""

import os

import pytest

from bench.inputs.cards import load_card
from bench.run.records import read_records
from tests.integration.conftest import copy_without_tokenizer
from tests.support.run_cli import tokencost

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]
ISL, OSL = 16, 8


@pytest.fixture(scope="module")
def bare_card(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    copy_without_tokenizer(models)
    card = load_card("tiny-bare", models)
    assert not card.has_tokenizer and not card.has_weights
    suite = models / "suite.toml"
    suite.write_text(
        'engines = ["vllm"]\nmodels = ["tiny-bare"]\nbatch_sizes = [2]\nmin_window_s = 0\n'
        f"[workload]\nisl = {ISL}\nosl = {OSL}\nrequests_per_batch = 2\n"
        "[engine]\nenforce_eager = true\n[serve]\nconcurrencies = [2]\nrequests_per_concurrency = 2\n"
    )
    return suite, os.environ | {"TOKENCOST_MODELS_DIR": str(models)}


def test_a_served_card_without_a_tokenizer_generates_exactly_the_requested_tokens(bare_card, tmp_path):
    suite, env = bare_card
    run_dir = tmp_path / "run"
    result = tokencost("run", "--suite", suite, "--mode", "serve", "--out", run_dir, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (record,) = read_records(run_dir)
    assert record.status == "ok" and record.model.name == "tiny-bare"
    assert record.num_requests == 4 and record.output_tokens == 4 * OSL and record.input_tokens == 4 * ISL
    assert record.requests_completed == 4 and record.requests_failed == 0
    assert "--skip-tokenizer-init" in (run_dir / "server-tiny-bare.log").read_text()
