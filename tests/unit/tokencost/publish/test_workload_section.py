"""The report on workloads with reuse: a workload column in every points table, and the section "Workloads and
prefix caching" with hit rates, cached and uncached input, the random floor and the API like for like, only
where some point is not random.

Records are made up (tests/support/records_factory.workload_record), apart from the CPU demo (a copy of a real
published run) and the serving demo (results/2026-11-28-cpu-serve-demo) given a made-up workload and cache.
"""

import shutil

import pytest

from bench.run.record import PrefixCache, WorkloadInfo
from bench.run.records import read_records
from tests.conftest import CPU_DEMO
from tests.support import REPO
from tests.support.records_factory import point_record, workload_record, write_run
from tokencost.publish.columns import (
    CONSOLE_WIDTH,
    OFFLINE_HEADERS,
    console_tables,
    short_names,
    shown,
)
from tokencost.publish.document import number
from tokencost.publish.workload_sections import TITLE, hit_rate_gap, workload_table
from tokencost.publish.write import build_report, write_report

MULTI_TURN = "multi-turn 4 turns 256+64/128"


@pytest.fixture(scope="module")
def records():
    """At batch 1 a random floor (two lengths) and two workloads with reuse; at batch 4 one without a floor."""
    return [
        workload_record("random"),  # random 512/128, its uncached probe 2.0 s
        workload_record("random", isl=2048, osl=128, probe_s=8.0),
        workload_record(),  # shared-prefix, 60% measured and implied
        workload_record("multi-turn", MULTI_TURN, hits=1000, implied_hits=2400),  # 25% measured, 60% implied
        workload_record(batch=4),
    ]


@pytest.fixture(scope="module")
def report(records, pricing):
    return build_report(records, pricing)


def _section(report):
    return next(s for s in report.sections if s.title == TITLE)


def test_only_workloads_with_reuse_get_the_section(pricing):
    titles = [s.title for s in build_report(read_records(CPU_DEMO), pricing).sections]
    assert TITLE not in titles
    floor_only = build_report([workload_record("random"), point_record(prefill_s=2.0)], pricing)
    assert TITLE not in [s.title for s in floor_only.sections]


def test_each_workload_beside_its_random_floor_at_the_same_batch(report):
    table = _section(report).table.set_index(["batch or load", "workload"])
    shared = table.loc[("batch 1", "shared-prefix 4x384+128/128")]
    # the floor of the same lengths (512/128), not the 2048/128 one
    assert shared["random floor"] == "random 512/128"
    floor = report.offline.query("workload_label == 'random 512/128'").iloc[0]
    assert shared["floor $/M input"] == number(floor["input_per_mtok_usd"]) == "0.000806"
    assert shared["floor $/M input+output"] == "0.003224"
    point = report.offline.query("workload_kind == 'shared-prefix' and batch_size == 1").iloc[0]
    # the point's input: 1600 uncached tokens at 2.0/4000 s and 2400 hits at 0.1/2400 s of an hour's cost
    hourly = point["hourly_usd"]
    assert shared["$/M uncached input"] == number(hourly / 3600 * 0.0005 * 1e6) == "0.000806"
    assert shared["$/M cached input"] == number(hourly / 3600 * 0.1 / 2400 * 1e6) == "0.00006717"
    assert shared["$/M input"] == "0.0003627" and shared["hit rate measured"] == shared["hit rate implied"] == "60%"
    assert shared["API $/M like for like"] == "0.204"  # (1600 x 0.15 + 2400 x 0.075 + 1000 x 0.6) / 5000
    # at batch 4 the runs measured no random point
    lonely = table.loc[("batch 4", "shared-prefix 4x384+128/128")]
    assert (lonely["random floor"], lonely["floor $/M input"], lonely["floor $/M input+output"]) == ("—", "—", "—")
    assert len(table) == 3  # the random points are floors, not rows


def test_a_gap_of_more_than_15_points_is_flagged(report):
    table = _section(report).table.set_index("workload")
    assert table.loc[MULTI_TURN, "gap"] == "flag: 35 pts below implied"
    assert set(table.loc["shared-prefix 4x384+128/128", "gap"]) == {""}
    assert any("more than 15 percentage points" in note for note in _section(report).table_notes)
    assert hit_rate_gap(0.6, 0.45) is None and hit_rate_gap(0.6, 0.44) == "flag: 16 pts above implied"
    assert hit_rate_gap(float("nan"), 0.6) is None


def test_the_section_states_its_method_the_floor_and_the_api_like_for_like(report):
    section = _section(report)
    text = " ".join(section.text)
    assert "salted apart so nothing is cached" in text and "vLLM's own prefix-cache counters" in text
    assert "Random is the floor" in text
    assert "cached input (the point's hits) at $0.075/M, GPT-4o mini's cached-input price" in text
    assert section.table_notes[0] == (
        "Every row: hardware cpu-vcpu; engine vllm; input split prefill probes, "
        "uncached and cached (hits measured); method [1]."
    )


def test_serving_points_show_hit_rates_but_are_not_split(pricing):
    serve = [r for r in read_records(REPO / "results" / "2026-11-28-cpu-serve-demo") if r.ok][:2]
    cache = PrefixCache(enabled=True, queries=1000, hits=500, hit_rate=0.5, implied_hits=600, implied_hit_rate=0.6)
    serve[0] = serve[0].model_copy(
        update={
            "prefix_cache": cache,
            "workload": WorkloadInfo(isl=128, osl=128, kind="multi-turn", label="multi-turn 2 turns 128+64/128"),
        }
    )
    report = build_report(serve, pricing)
    section = _section(report)
    row = section.table.iloc[0]
    assert row["batch or load"].startswith("conc ") and row["hit rate measured"] == "50%"
    assert (row["$/M uncached input"], row["$/M cached input"]) == ("—", "—")
    assert "their input is not split into cached and uncached" in " ".join(section.text)


def test_the_figure_is_written_and_shown(records, pricing, tmp_path):
    run = write_run(tmp_path / "run", *records)
    report = write_report(run, pricing)
    assert {"cost_vs_hit_rate.png", "cost_vs_hit_rate.svg"} <= {p.name for p in report.files}
    assert (run / "cost_vs_hit_rate.png").stat().st_size > 0
    assert "](cost_vs_hit_rate.png)" in (run / "report.md").read_text()
    page = (run / "index.html").read_text()
    assert "Cost vs prefix-cache hit rate" in page and "Workloads and prefix caching" in page
    assert "prefix-cache hit rate, measured" in (run / "cost_vs_hit_rate.svg").read_text()


def test_a_random_run_writes_no_hit_rate_figure(tmp_path, pricing):
    run = shutil.copytree(CPU_DEMO, tmp_path / "cpu-demo")
    assert not any("hit_rate" in p.name for p in write_report(run, pricing).files)


def test_the_compact_table_names_workloads_short_and_tells_them_in_full(records, pricing):
    text = console_tables(pricing.price(records))
    assert max(map(len, text.splitlines())) <= CONSOLE_WIDTH, text
    assert text.splitlines()[0].split()[:3] == ["model", "batch", "workload"]
    # in the table's order: random sorts after multi-turn, and 512/128 before 2048/128
    assert (
        "Workloads: turns = multi-turn 4 turns 256+64/128; random1 = random 512/128; random2 = random 2048/128; "
        "prefix = shared-prefix 4x384+128/128."
    ) in text.replace("\n    ", " ")


def test_short_names_number_a_kind_with_several_labels():
    import pandas as pd

    names = short_names(pd.Series(["trace agentic-small", "lengths sharegpt", "trace x", "trace agentic-small"]))
    assert names == {"trace agentic-small": "trace1", "lengths sharegpt": "lengths", "trace x": "trace2"}


def test_one_workload_is_stated_once_and_the_wide_view_shows_reuse_only_where_there_is_some(records, pricing):
    cpu = pricing.price(read_records(CPU_DEMO))
    assert "workload random 128/128;" in console_tables(cpu)
    assert "workload" in shown(cpu.offline, OFFLINE_HEADERS)
    assert "$/M cached input" not in shown(cpu.offline, OFFLINE_HEADERS)
    wide = shown(pricing.price(records).offline, OFFLINE_HEADERS)
    assert {"workload", "prefix-cache hit rate", "implied hit rate", "$/M uncached input", "$/M cached input"} <= set(
        wide.columns
    )


def test_workload_table_keeps_the_points_order_per_model_and_batch(report):
    table = workload_table(report.offline.assign(at="batch " + report.offline["batch_size"].astype(str)))
    assert list(zip(table["batch_size"], table["workload_label"])) == [
        (1, MULTI_TURN),
        (1, "shared-prefix 4x384+128/128"),
        (4, "shared-prefix 4x384+128/128"),
    ]
