"""The answer a report opens on: the cost with its token basis, dense vs MoE at matched settings, the quoted
point's failed checks, and the CPU caveat, in report.md before any method or section."""

import pandas as pd
import pytest

from bench.run.record import Validity
from bench.run.records import read_records
from tests.conftest import CPU_DEMO
from tests.support.records_factory import point_record, synthetic_h100_records
from tokencost.analysis.pairs import offline_moe_vs_dense
from tokencost.publish.answer import CPU_CAVEAT, CPU_POINTS_CAVEAT
from tokencost.publish.document import number
from tokencost.publish.markdown import report_markdown
from tokencost.publish.write import build_report


def answer(records, pricing) -> list[str]:
    return build_report(records, pricing).answer


def test_the_cpu_demo_opens_on_its_cost_verdict_failed_check_and_caveat(pricing):
    report = build_report(read_records(CPU_DEMO), pricing)
    cost, moe, checks, caveat = report.answer
    best = report.offline.loc[report.offline["total_per_mtok_usd"].idxmin()]
    assert cost.startswith(f"A million input+output tokens cost ${number(best['total_per_mtok_usd'])} ")
    assert f"{best['model']} ({best['kind']}), {best['engine']}, batch {best['batch_size']}" in cost
    dense_best = report.offline.query("model == 'tiny-dense'")["total_per_mtok_usd"].min()
    assert f"tiny-dense ${number(dense_best)}" in cost  # the other model at its own cheapest
    pairs = offline_moe_vs_dense(report.offline)
    at_best = pairs.query("engine == 'vllm' and batch == 64")["MoE / dense cost"].item()
    assert f"tiny-moe (MoE) costs {number(at_best, 3)}x what tiny-dense (dense) costs per token" in moe
    assert f"over {len(pairs)} matched points, cheaper at {int((pairs['MoE / dense cost'] < 1).sum())}" in moe
    assert checks == "The quoted point failed a validity check: window_length; read its figures with that in mind."
    assert caveat == CPU_CAVEAT and "say nothing about what a token costs on a GPU" in caveat


def test_a_gpu_run_has_no_cpu_caveat_and_says_when_every_check_passed(pricing):
    h100 = {"accelerator": "NVIDIA H100 80GB HBM3", "units": 1, "method": "nvml-counter"}
    passed = Validity.of({"window_length": {"ok": True, "seconds": 60.0, "minimum_s": 30}})
    records = [point_record("tiny-dense", "dense", 4, 4000.0, 300.0, validity=passed, **h100)]
    lines = answer(records, pricing)
    assert CPU_CAVEAT not in lines
    assert lines[0].startswith("A million input+output tokens cost $") and "on h100-sxm" in lines[0]
    assert lines[2] == "The quoted point passed its validity checks."


@pytest.mark.parametrize(
    ("moe_tok_s", "verdict"),
    [((500.0, 900.0), "over 2 matched points, cheaper at 2."), ((50.0, 90.0), "over 2 matched points, cheaper at 0.")],
)
def test_the_verdict_counts_the_matched_points_the_moe_model_wins(pricing, moe_tok_s, verdict):
    records = [
        point_record("tiny-dense", "dense", 1, 100.0, 5.0),
        point_record("tiny-dense", "dense", 4, 400.0, 5.0),
        point_record("tiny-moe", "moe", 1, moe_tok_s[0], 5.0),
        point_record("tiny-moe", "moe", 4, moe_tok_s[1], 5.0),
    ]
    moe = answer(records, pricing)[1]
    assert moe.startswith("Dense vs MoE at the same hardware, engine, batch and lengths: tiny-moe (MoE) costs ")
    assert moe.endswith(verdict)


def test_without_a_pair_the_answer_says_so(pricing):
    lines = answer([point_record("tiny-dense", "dense", 4, 400.0, 5.0)], pricing)
    assert lines[1] == (
        "Dense vs MoE: no MoE model was measured beside its dense pair at the same hardware, engine, batch and lengths."
    )


def test_a_run_with_no_successful_point_says_there_is_no_cost(pricing):
    lines = answer([point_record("tiny-dense", "dense", 4, 400.0, 5.0, status="failed")], pricing)
    assert lines == ["No point was measured successfully, so there is no cost to quote."]


def test_report_md_opens_on_the_answer_before_what_was_measured_and_the_methods(pricing):
    report = build_report(read_records(CPU_DEMO), pricing)
    for section in report.sections:
        section.plots = []  # the text's order is what is checked
    markdown = report_markdown(report)
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[:3] == ["## The answer", "## What was measured", "## Methods"]
    answer_block = markdown.split("## The answer\n\n", 1)[1].split("\n\n", 1)[0]
    assert answer_block.splitlines() == [f"- {line}" for line in report.answer]


def test_the_token_basis_is_the_rows_own(pricing):
    """A row priced per output token (as MLPerf's are) is quoted per output token."""
    from tokencost.publish.answer import _basis

    assert _basis(pd.Series({"token_basis": "output"})) == "output tokens"
    assert _basis(pd.Series({"token_basis": "input+output"})) == "input+output tokens"


def test_cpu_points_beside_gpu_points_get_their_own_caveat(pricing):
    lines = answer(read_records(CPU_DEMO) + synthetic_h100_records(), pricing)
    assert CPU_POINTS_CAVEAT in lines and CPU_CAVEAT not in lines
