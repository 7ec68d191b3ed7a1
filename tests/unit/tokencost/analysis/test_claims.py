"""The claims report and projections, on committed fixture records (test data, not measurements)."""

import pandas as pd
import pytest

from bench.run.record import Validity
from bench.run.records import read_records
from tests.support import FIXTURES
from tests.support.cli import tokencost
from tests.support.records_factory import write_run
from tokencost.analysis.claims import CANNOT_TELL, NOT_SUPPORTED, SUPPORTED, check_claims
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing

FIXTURE = FIXTURES / "claims"


def _valid(records):
    """The fixture's records as if each had passed its validity checks (its 10 s points fail the 30 s window)."""
    passed = Validity.of({"window_length": {"ok": True, "seconds": 30.0, "minimum_s": 30}})
    return [r.model_copy(update={"validity": passed}) for r in records]


def _claims(preset=None, records=None):
    pricing = Pricing.of(load_assumptions(preset), load_catalog())
    records = records if records is not None else _valid(read_records(FIXTURE))
    return check_claims(pricing.price(records).offline, pricing)


def test_each_claim_gets_evidence_a_figure_and_a_verdict():
    table = _claims().set_index("claim")
    verdicts = dict(zip(table.index.str[:20], table["verdict"]))
    assert verdicts == {
        "An MoE model costs s": SUPPORTED,  # the fixture's MoE makes 3x the tokens at the same power
        "H100 gives about 3x ": SUPPORTED,  # and its A100 runs spend 3x the joules per token
        "vLLM-style serving r": SUPPORTED,  # transformers runs at a fifth of vLLM's throughput
        "Chips are 60-70 % of": NOT_SUPPORTED,
        "Self-hosted cost can": SUPPORTED,
    }
    assert table["figure"].iloc[0] == pytest.approx(3.0) and table["figure"].iloc[1] == pytest.approx(3.0, rel=1e-3)
    assert table["figure"].iloc[2] == pytest.approx(5.0)
    evidence = table["evidence"].tolist()
    assert "matched points" in evidence[0] and "median 3.00x" in evidence[0]
    assert "A100 J/token over H100 J/token: median 3.00x" in evidence[1]
    assert "vLLM over transformers output tok/s: median 5.00x" in evidence[2]
    assert "capital share of the hourly cost under preset 'owned'" in evidence[3]
    assert evidence[4].startswith("lowest measured $/M input+output tokens: $")


def test_rented_presets_cannot_judge_the_chip_share():
    assert _claims("on-demand-rental").iloc[3]["verdict"] == CANNOT_TELL


def test_missing_evidence_says_so_and_projects_with_a_label():
    only_h100_vllm = [
        r for r in _valid(read_records(FIXTURE)) if "H100" in r.hardware.accelerator and r.engine.name == "vllm"
    ]
    table = _claims(records=only_h100_vllm)
    assert table.iloc[1]["verdict"] == CANNOT_TELL and table.iloc[2]["verdict"] == CANNOT_TELL
    assert table.iloc[1]["projection"].startswith("PROJECTED from rooflines (not measured)")


def test_claims_command_writes_a_readable_report(tmp_path):
    run_dir = write_run(tmp_path / "run", *_valid(read_records(FIXTURE)))
    result = tokencost("claims", run_dir, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| claim" in result.stdout and "supported" in result.stdout
    report = (tmp_path / "claims.md").read_text()
    assert "**Verdict: supported.**" in report and "Evidence:" in report


def test_projection_is_always_labelled_and_uses_measured_efficiency(tmp_path):
    result = tokencost(
        "project",
        "--model",
        "qwen3-30b-a3b",
        "--gpu",
        "NVIDIA H200",
        "--efficiency",
        "0.5",
        "--batch-sizes",
        "1,8",
        "--csv",
        tmp_path / "p.csv",
    )
    assert result.returncode == 0, result.stderr
    assert "All figures PROJECTED, not measured" in result.stdout
    table = pd.read_csv(tmp_path / "p.csv")
    # one GPU, no collectives: the efficiency times uniform routing's expectation (the MoE ceiling is higher)
    assert table["projected_output_tok_s"].to_numpy() == pytest.approx(0.5 * table["roofline_expected_tok_s"])
    assert (table["roofline_expected_tok_s"] <= table["ceiling_output_tok_s"]).all()
    assert table["label"].str.startswith("projected:").all()
    measured = tokencost("project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--efficiency", FIXTURE)
    assert measured.returncode == 0, measured.stderr
    assert "median of 4 vllm points in" in measured.stdout  # the dense points only: a dense model is projected


@pytest.mark.parametrize(
    "args, field",
    [
        (["--efficiency", "1.5"], "--efficiency:"),
        (["--efficiency", "lots"], "--efficiency:"),
        (["--gpus", "0"], "--gpus:"),
    ],
)
def test_projection_rejects_bad_input(args, field):
    result = tokencost("project", "--model", "qwen3-8b", "--gpu", "h100-sxm", *args)
    assert result.returncode == 2 and result.stderr.startswith(f"tokencost: error: {field}")
