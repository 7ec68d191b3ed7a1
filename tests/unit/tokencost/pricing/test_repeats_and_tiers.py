"""Serving points measured several times, shown once as their medians with a spread and n; and each service-level
tier's verdict and $/M within it.

Records are made up (tests/support/records_factory.serve_record): one H100 rented at $3.60 an hour, so a point's
hourly cost is $3.60 and its $/M tokens 3.6 / 3600 / (input + output tok/s) x 1e6 = 500 / output tok/s.
"""

import math

import pandas as pd
import pytest

from tests.support.records_factory import serve_record, tier_verdict, write_run
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing
from tokencost.pricing.serving import median_of_repeats, tiers_met
from tokencost.publish.columns import CONSOLE_WIDTH, SERVING_HEADERS, console_tables, shown
from tokencost.publish.write import build_report, write_report

EVERY_TIER = ("ix-30", "ix-50", "ix-75", "ix-100", "interactive", "chat", "batch")


@pytest.fixture(scope="module")
def rented():
    assumptions = load_assumptions("on-demand-rental", settings=["rate=rates", "rates={h100-sxm=3.6}"])
    return Pricing.of(assumptions, load_catalog())


def _repeats(chat=(True, False, True)):
    """conc 4 measured three times (900, 1000 and 1200 output tok/s), conc 8 once."""
    measured = ((900.0, 100.0, 40), (1000.0, 120.0, 38), (1200.0, 90.0, 36))
    return [
        serve_record(
            concurrency=4,
            output_tok_s=tok_s,
            ttft_ms=ttft,
            requests=requests,
            repeat=i,
            tiers={"chat": tier_verdict("chat", met=met)},
        )
        for i, ((tok_s, ttft, requests), met) in enumerate(zip(measured, chat))
    ] + [serve_record(concurrency=8, output_tok_s=2000.0, tiers={"chat": tier_verdict("chat", met=False)})]


def _point(table: pd.DataFrame, concurrency: int) -> pd.Series:
    rows = table[table["concurrency"] == concurrency]
    assert len(rows) == 1
    return rows.iloc[0]


def test_three_repeats_are_one_point_at_their_medians_with_the_spread_and_n(rented):
    points = median_of_repeats(rented.price(_repeats()).serving)
    assert len(points) == 2
    point = _point(points, 4)
    assert point["n"] == 3 and point["point"] == "tiny-dense/vllm-serve/conc4/isl128/osl128"
    assert point["output_tok_s"] == 1000.0
    assert (point["output_tok_s_min"], point["output_tok_s_max"]) == (900.0, 1200.0)
    assert point["output_tok_s_spread"] == pytest.approx(0.15)  # (1200 - 900) / 2 / 1000
    # $/M = 500 / tok/s: 0.5556, 0.5 and 0.4167; the median 0.5, half the range 0.06944, 13.89% of it
    assert point["total_per_mtok_usd"] == pytest.approx(0.5)
    assert point["total_per_mtok_usd_spread"] == pytest.approx((500 / 900 - 500 / 1200) / 2 / 0.5)
    assert point["ttft_p50_ms"] == 100.0 and point["ttft_p90_ms"] == pytest.approx(110.0)
    assert (point["ttft_p50_ms_min"], point["ttft_p50_ms_max"]) == (90.0, 120.0)
    assert point["goodput_rps"] == pytest.approx(3.8)  # 4.0, 3.8 and 3.6 requests/s
    assert point["tpot_p50_ms"] == 10.0 and point["interactivity"] == 100.0
    assert point["tier_chat_met"] == True  # noqa: E712 (numpy's bool) met by two of the three


def test_a_point_measured_once_beside_repeated_ones_is_as_priced_with_n_1(rented):
    serving = rented.price(_repeats()).serving
    once = _point(median_of_repeats(serving), 8)
    assert once["n"] == 1 and math.isnan(once["output_tok_s_spread"])
    assert once["total_per_mtok_usd"] == _point(serving, 8)["total_per_mtok_usd"] == pytest.approx(0.25)


def test_a_tier_is_met_by_a_majority_of_the_measurements(rented):
    point = _point(median_of_repeats(rented.price(_repeats((False, True, False))).serving), 4)
    assert point["tier_chat_met"] == False  # noqa: E712 (numpy's bool)


def test_serve_costs_keeps_every_measurement_and_the_medians_go_beside_it(tmp_path, rented):
    report = write_report(write_run(tmp_path, *_repeats()), rented)
    every = pd.read_csv(tmp_path / "serve_costs.csv")
    assert len(every) == 4 and sorted(every["repeat"].dropna()) == [0, 1, 2]
    medians = pd.read_csv(tmp_path / "serve_medians.csv")
    assert list(medians["n"]) == [3, 1] and medians["output_tok_s"].tolist() == [1000.0, 2000.0]
    markdown = (tmp_path / "report.md").read_text()
    assert "n: measurements of the point, each number their median" in markdown
    assert "| tiny-dense | conc 4 |   3 |" in markdown and "±13.9%" in markdown and "900–1,200" in markdown
    assert report.cheapest.startswith("$0.25 per million tokens")


def test_tier_usd_per_mtok_is_the_hourly_cost_over_the_tokens_served_within_the_tier(rented):
    record = serve_record(
        tiers={
            "chat": tier_verdict("chat", total_tokens_within=10_240),
            "interactive": tier_verdict("interactive", met=False, requests_within=0, total_tokens_within=0),
        }
    )
    row = rented.price([record]).serving.iloc[0]
    assert row["hourly_usd"] == pytest.approx(3.6)
    # $3.60 an hour over the point's 10 s, over 10,240 tokens
    assert row["tier_chat_usd_per_mtok"] == pytest.approx(3.6 / 3600 * 10 / 10_240 * 1e6) == pytest.approx(0.9765625)
    assert math.isnan(row["tier_interactive_usd_per_mtok"])  # no request within: no tokens to charge
    assert list(row[["tier_chat_met", "tier_interactive_met"]]) == [True, False]
    assert row["tier_chat_requests_within"] == 40 and row["tiers_met"] == "chat"


def test_tiers_met_names_the_strictest_kept_and_none_when_none(rented):
    limits = rented.price([serve_record(tiers={t: tier_verdict(t) for t in EVERY_TIER})]).serving.attrs["tiers"]
    every = {f"tier_{t}_met": True for t in EVERY_TIER}
    assert tiers_met(every, limits) == "ix-100, interactive, batch"
    assert tiers_met(every | {"tier_ix-100_met": False, "tier_interactive_met": False}, limits) == "ix-75, chat, batch"
    assert tiers_met({f"tier_{t}_met": False for t in EVERY_TIER}, limits) == "none"
    assert tiers_met({"model": "m"}, limits) is None


def test_records_without_repeats_or_tiers_price_as_before(rented, pricing):
    serving = rented.price([serve_record(concurrency=c) for c in (1, 4)]).serving
    assert not {"point", "repeat", "ttft_p90_ms", "tiers_met"} & set(serving.columns)
    assert not any(c.startswith("tier_") for c in serving.columns)
    assert median_of_repeats(serving) is serving
    assert "n" not in shown(serving, SERVING_HEADERS) and "tiers met" not in console_tables(
        rented.price([serve_record()])
    )
    titles = [s.title for s in build_report([serve_record()], pricing).sections]
    assert "Capacity at service levels" not in titles


def test_every_tier_and_repeats_fit_the_console(rented):
    records = [
        serve_record(
            concurrency=c,
            output_tok_s=tok_s * (1 + 0.05 * r),
            repeat=r,
            tiers={t: tier_verdict(t, met=t in met) for t in EVERY_TIER},
        )
        for c, tok_s, met in ((1, 100.0, EVERY_TIER), (8, 600.0, ("ix-30", "chat", "batch")))
        for r in range(3)
    ]
    text = console_tables(rented.price(records))
    assert max(map(len, text.splitlines())) <= CONSOLE_WIDTH, text
    assert "tiers met" in text and "within SLO" not in text.splitlines()[0] and "±" in text
    assert "ix-100 implies ix-75, ix-50, ix-30; interactive implies chat" in " ".join(text.split())
