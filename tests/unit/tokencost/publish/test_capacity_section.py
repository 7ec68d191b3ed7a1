"""Capacity at service levels: a run's capacity.jsonl priced into units per 1,000 users and per million requests
a day and $/M within the tier, the report's section on it, and the short answer printed at a command's end.

Records and searches are made up (tests/support/records_factory): two H100s rented at $3.60 an hour each, so a
point's hourly cost is $7.20 and each 10 s measurement costs $0.02.
"""

import pytest

from tests.support.records_factory import capacity_outcome, serve_record, tier_verdict, write_capacity, write_run
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.capacity import CLOSED_LOOP, OPEN_LOOP
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing
from tokencost.publish.capacity_sections import TITLE, capacity_console, capacity_points
from tokencost.publish.columns import CONSOLE_WIDTH
from tokencost.publish.write import write_report

NEVER = "never — fails at the lowest load tried (1 concurrent request)"
RUN_TIERS = ("chat", "batch", "interactive")


@pytest.fixture(scope="module")
def rented():
    assumptions = load_assumptions("on-demand-rental", settings=["rate=rates", "rates={h100-sxm=3.6, cpu-vcpu=0.05}"])
    return Pricing.of(assumptions, load_catalog())


def _verdicts(within: int, chat: bool = True) -> dict:
    """chat met (or not) with `within` requests of 256 tokens each within it; batch met by all 40; interactive by
    none."""
    return {
        "chat": tier_verdict("chat", met=chat, requests_within=within, total_tokens_within=256 * within),
        "batch": tier_verdict("batch", requests_within=40, total_tokens_within=10_240),
        "interactive": tier_verdict("interactive", met=False, requests_within=0, total_tokens_within=0),
    }


def _closed_loop_run(run_dir):
    """Concurrency 1 to 16 on 2 H100s; concurrency 8 measured three times, 40, 32 and 48 requests within chat."""
    records = [serve_record(concurrency=c, units=2, tiers=_verdicts(40, chat=c <= 8)) for c in (1, 2, 4, 16)]
    records += [
        serve_record(concurrency=8, units=2, repeat=r, tiers=_verdicts(within)) for r, within in enumerate((40, 32, 48))
    ]
    write_run(run_dir, *records)
    write_capacity(
        run_dir,
        capacity_outcome("chat", capacity=8, first_failing=16),
        capacity_outcome("batch", status="at-least", capacity=8, first_failing=None, maximum=8.0),
        capacity_outcome("interactive", status="never", capacity=None, first_failing=1),
    )
    return run_dir


@pytest.fixture(scope="module")
def closed(tmp_path_factory, rented):
    run_dir = _closed_loop_run(tmp_path_factory.mktemp("closed") / "run")
    return run_dir, write_report(run_dir, rented)


def _row(report, tier):
    table = capacity_points(report)
    return table[table["tier"] == tier].iloc[0]


def test_closed_loop_gpus_per_1000_users_and_per_million_requests_a_day(closed):
    _, report = closed
    chat = _row(report, "chat")
    assert chat["status"] == "found" and chat["capacity_text"] == "8 concurrent requests" and chat["n"] == 3
    assert chat["hardware"] == "h100-sxm" and chat["unit"] == "GPUs" and chat["accelerator_count"] == 2
    assert chat["first_failing_text"] == "16 concurrent requests" and chat["verdicts"] == "met 3 of 3"
    assert chat["users_basis"] == CLOSED_LOOP and chat["users_at_capacity"] == 8
    assert chat["units_per_1000_users"] == 250  # 1000 / 8 concurrent users x 2 GPUs
    # goodput 4.0, 3.2 and 4.8 requests/s within chat: the median 4.0
    assert chat["goodput_rps"] == pytest.approx(4.0)
    assert (chat["goodput_rps_min"], chat["goodput_rps_max"]) == pytest.approx((3.2, 4.8))
    assert chat["units_per_million_requests_day"] == pytest.approx(1e6 / 86400 / 4.0 * 2) == pytest.approx(5.787037)


def test_usd_per_mtok_within_the_tier_is_the_median_over_the_capacitys_measurements(closed):
    _, report = closed
    chat = _row(report, "chat")
    # $0.02 per measurement over 10,240, 8,192 and 12,288 tokens within chat
    assert chat["tier_usd_per_mtok"] == pytest.approx(0.02 / 10_240 * 1e6) == pytest.approx(1.953125)
    assert (chat["tier_usd_per_mtok_min"], chat["tier_usd_per_mtok_max"]) == pytest.approx((1.627604, 2.441406))
    assert chat["tier_usd_per_mtok_spread"] == pytest.approx((0.02 / 8192 - 0.02 / 12_288) * 1e6 / 2 / 1.953125)


def test_never_and_at_least_are_said_plainly(closed):
    _, report = closed
    never, at_least = _row(report, "interactive"), _row(report, "batch")
    assert never["capacity_text"] == NEVER and never["verdicts"] == "met 0 of 3" and never["n"] == 0
    assert never[["goodput_rps", "tier_usd_per_mtok", "units_per_1000_users"]].isna().all()
    assert at_least["capacity_text"] == "at least 8 concurrent requests"
    assert at_least["first_failing_text"] == "none up to 8" and at_least["units_per_1000_users"] == 250


def test_the_console_answers_per_model_and_tier_within_120_columns(closed):
    _, report = closed
    text = capacity_console(report)
    assert max(map(len, text.splitlines())) <= CONSOLE_WIDTH, text
    lines = " ".join(text.split())
    assert (
        "tiny-dense, tier chat: 250 h100-sxm GPUs per 1,000 users, $1.953/M tokens within the tier (capacity 8 "
        "concurrent requests; 5.79 GPUs per 1M requests/day)"
    ) in lines
    assert "tiny-dense, tier batch: at most 250 h100-sxm GPUs per 1,000 users" in lines
    assert f"tiny-dense, tier interactive: {NEVER}" in lines


def test_the_section_states_its_method_and_is_in_report_page_and_csv(closed):
    run_dir, report = closed
    markdown = " ".join((run_dir / "report.md").read_text().split())
    assert f"## {TITLE}" in markdown and "bisects between the highest load that kept the tier" in markdown
    assert "within the tolerance (10%)" in markdown and "measured 3 times and judged by the majority" in markdown
    assert "users = the concurrency" in markdown and "Little's law" not in markdown
    assert (
        "Every row: units h100-sxm GPUs, 2 per server; workload random 128/128; users closed loop: users = "
        "concurrency; method [1]."
    ) in markdown
    assert "interactive = p90 TTFT <= 500 ms, p90 TPOT <= 25 ms" in markdown
    assert f"| {NEVER} |" in markdown and "| at most 250 |" in markdown
    assert f"<h2>{TITLE}</h2>" in (run_dir / "index.html").read_text()
    assert (run_dir / "capacity.csv").read_text().count("\n") == 4  # a header and three searches


def test_open_loop_users_come_from_littles_law(tmp_path, rented):
    records = [
        serve_record(request_rate=2.0, requests=20, e2e_ms=1500.0, repeat=r, tiers=_verdicts(20)) for r in range(3)
    ]
    run_dir = write_run(tmp_path / "run", *records)
    write_capacity(run_dir, capacity_outcome("chat", load="rate", capacity=2.0, first_failing=4.0))
    report = write_report(run_dir, rented)
    chat = _row(report, "chat")
    assert chat["capacity_text"] == "2 requests/s" and chat["users_basis"] == OPEN_LOOP
    assert chat["users_at_capacity"] == pytest.approx(3.0)  # 2 requests/s x 1.5 s mean end to end
    assert chat["units_per_1000_users"] == pytest.approx(1000 / 3)
    assert chat["units_per_million_requests_day"] == pytest.approx(1e6 / 86400 / 2.0)
    assert "Little's law" in (run_dir / "report.md").read_text()


def test_a_cpu_run_counts_vcpus_by_the_hardware_key(tmp_path, rented):
    cpu = "CPU (Intel(R) Xeon(R) Processor)"
    records = [
        serve_record(concurrency=4, accelerator=cpu, units=2, power_w=5.0, repeat=r, tiers=_verdicts(40))
        for r in range(3)
    ]
    run_dir = write_run(tmp_path / "run", *records)
    write_capacity(run_dir, capacity_outcome("chat", capacity=4, first_failing=8))
    report = write_report(run_dir, rented)
    chat = _row(report, "chat")
    assert chat["hardware"] == "cpu-vcpu" and chat["unit"] == "vCPUs" and chat["units_per_1000_users"] == 500
    assert "500 cpu-vcpu vCPUs per 1,000 users" in " ".join(capacity_console(report).split())
    assert "| vCPUs per 1,000 users |" in " ".join((run_dir / "report.md").read_text().split())


def test_without_capacity_jsonl_there_is_no_section_and_nothing_printed(tmp_path, rented):
    run_dir = write_run(tmp_path / "run", *[serve_record(concurrency=c, tiers=_verdicts(40)) for c in (1, 4)])
    report = write_report(run_dir, rented)
    assert TITLE not in [s.title for s in report.sections] and capacity_console(report) == ""
    assert not (run_dir / "capacity.csv").exists() and TITLE not in (run_dir / "report.md").read_text()
