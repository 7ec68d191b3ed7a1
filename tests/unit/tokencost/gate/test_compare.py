"""The CI gate `tokencost compare BASELINE NEW`: regressions fail, noise and improvements pass, bad input is exit 2."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cli import tokencost
from tests.support.records_factory import point_record, write_run
from tokencost.cli.args import threshold
from tokencost.gate.benchmark_json import stats
from tokencost.gate.compare import ONLY_IN_BASELINE, ONLY_IN_NEW, REGRESSION, compare

PYTEST_BENCHMARK = str(Path(sys.executable).parent / "pytest-benchmark")


def rows(result, metric: str) -> list[dict]:
    """The diff table's rows for one metric, as dicts keyed by the header."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]
    return [row for row in table if row["metric"] == metric]


def gate(base: Path, new: Path, *options):
    return tokencost("compare", base, new, *options)


def one_line_error(result, field: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tokencost: error: {field}"), lines[0]
    return lines[0]


def test_cost_up_at_the_same_throughput_fails(tmp_path):
    base = write_run(tmp_path / "base", point_record(batch=4, output_tok_s=100.0, units=2))
    new = write_run(tmp_path / "new", point_record(batch=4, output_tok_s=100.0, units=4))  # twice the vCPUs priced
    result = gate(base, new)
    assert result.returncode == 1, result.stdout + result.stderr
    [cost] = rows(result, "$/M input+output")
    [speed] = rows(result, "output tok/s")
    assert cost["verdict"] == "REGRESSION" and cost["band"] == "5.0% (threshold)"
    assert float(cost["change"].rstrip("%")) > 50  # capital and hosting double, energy does not
    assert speed["verdict"] == "ok" and speed["change"] == "+0.0%"
    assert "gate failed: 1 point(s) regressed" in result.stderr


def test_throughput_down_fails(tmp_path):
    base = write_run(tmp_path / "base", point_record(output_tok_s=100.0))
    new = write_run(tmp_path / "new", point_record(output_tok_s=80.0))
    result = gate(base, new)
    assert result.returncode == 1, result.stdout + result.stderr
    [speed] = rows(result, "output tok/s")
    assert speed["verdict"] == "REGRESSION" and speed["change"] == "-20.0%"
    assert rows(result, "$/M input+output")[0]["verdict"] == "REGRESSION"  # the same hour buys fewer tokens


def test_an_improvement_passes(tmp_path):
    base = write_run(tmp_path / "base", point_record(output_tok_s=100.0))
    new = write_run(tmp_path / "new", point_record(output_tok_s=130.0))
    result = gate(base, new)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(result, "output tok/s")[0]["verdict"] == "improved"
    assert rows(result, "$/M input+output")[0]["verdict"] == "improved"
    assert "0 regressed, 0 ok, 1 improved" in result.stdout


def test_noise_below_the_threshold_passes_and_the_threshold_is_honoured(tmp_path):
    base = write_run(tmp_path / "base", point_record(output_tok_s=100.0))
    new = write_run(tmp_path / "new", point_record(output_tok_s=97.0))
    passing = gate(base, new)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert rows(passing, "output tok/s")[0]["verdict"] == "ok"
    assert gate(base, new, "--max-regression", "0.02").returncode == 1
    assert gate(base, new, "--max-regression", "2%").returncode == 1


def test_a_wide_spread_between_repeats_widens_the_band(tmp_path):
    # Baseline repeated in three runs (a directory of run directories): 90, 100 and 110 tok/s, a 20 % spread.
    baseline_runs = tmp_path / "baseline"
    for i, tok_s in enumerate([90.0, 100.0, 110.0]):
        write_run(baseline_runs / f"run{i}", point_record(output_tok_s=tok_s))
    # The new run repeats the point twice in one records.jsonl: median 88, 12 % slower than 100.
    new = write_run(tmp_path / "new", point_record(output_tok_s=86.0), point_record(output_tok_s=90.0))
    result = gate(baseline_runs, new)
    assert result.returncode == 0, result.stdout + result.stderr
    [speed] = rows(result, "output tok/s")
    assert speed["baseline"] == "100 (median of 3)" and speed["new"] == "88 (median of 2)"
    assert speed["change"] == "-12.0%" and speed["band"] == "20.0% (noise)" and speed["verdict"] == "ok"

    single = write_run(tmp_path / "single", point_record(output_tok_s=100.0))
    alone = gate(single, new)  # without repeats the same median is a regression
    assert alone.returncode == 1
    assert rows(alone, "output tok/s")[0]["band"] == "5.0% (threshold)"


def test_missing_points_are_reported_and_fail_only_with_require_all(tmp_path):
    base = write_run(tmp_path / "base", point_record(batch=1), point_record(batch=4))
    new = write_run(tmp_path / "new", point_record(batch=1), point_record(batch=16))
    result = gate(base, new)
    assert result.returncode == 0, result.stdout + result.stderr
    [missing] = rows(result, "(all)")[:1]
    assert missing["batch"] == "4" and missing["verdict"] == "only-in-baseline"
    assert [r["verdict"] for r in rows(result, "(all)")] == ["only-in-baseline", "only-in-new"]
    assert "1 only in baseline, 1 only in new" in result.stdout
    strict = gate(base, new, "--require-all")
    assert strict.returncode == 1
    assert "1 missing (--require-all)" in strict.stderr


def test_a_priced_costs_csv_can_stand_for_a_run(tmp_path):
    base = write_run(tmp_path / "base", point_record(output_tok_s=100.0))
    new = write_run(tmp_path / "new", point_record(output_tok_s=80.0))
    assert tokencost("price", base, "--csv", tmp_path / "base.csv").returncode == 0
    result = gate(tmp_path / "base.csv", new)
    assert result.returncode == 1, result.stdout + result.stderr
    assert rows(result, "output tok/s")[0]["verdict"] == "REGRESSION"
    line = one_line_error(gate(tmp_path / "base.csv", new, "--preset", "on-demand-rental"), "BASELINE:")
    assert "priced with other assumptions" in line


@pytest.mark.parametrize("value", ["abc", "-3%", "5", "", "nan%"])
def test_a_bad_threshold_is_one_line(tmp_path, value):
    base = write_run(tmp_path / "base", point_record())
    line = one_line_error(gate(base, base, f"--max-regression={value}"), "--max-regression:")
    assert "5%" in line and "0.05" in line


def test_bad_paths_are_one_line(tmp_path):
    run = write_run(tmp_path / "run", point_record())
    assert "does not exist" in one_line_error(gate(tmp_path / "nowhere", run), "BASELINE:")
    (tmp_path / "empty").mkdir()
    assert "has no records.jsonl" in one_line_error(gate(run, tmp_path / "empty"), "NEW:")
    failed = write_run(tmp_path / "failed", point_record(status="failed"))
    assert "no successfully measured point" in one_line_error(gate(failed, run), "BASELINE:")
    other = write_run(tmp_path / "other", point_record(model="tiny-moe", kind="moe"))
    assert "no point matches" in one_line_error(gate(run, other), "NEW:")


def test_thresholds_read_as_percentages_or_fractions():
    assert threshold("5%") == pytest.approx(0.05)
    assert threshold(" 2.5 % ") == pytest.approx(0.025)
    assert threshold("0.05") == pytest.approx(0.05)
    assert threshold("0") == 0
    with pytest.raises(argparse.ArgumentTypeError):
        threshold("150")  # 15000 %? write 150% if that is meant


def _points(**columns) -> pd.DataFrame:
    base = {
        "model": "m",
        "hardware": "h100-sxm",
        "engine": "vllm",
        "batch_size": 8,
        "isl": 1024,
        "osl": 1024,
        "total_per_mtok_usd": 0.10,
        "output_tok_s": 1000.0,
    }
    return pd.DataFrame([base | columns])


def test_serving_points_do_not_collide_with_offline_ones_and_missing_key_columns_are_tolerated():
    offline_without_mode = _points()  # a table priced before serving mode existed: no mode column
    new = pd.concat(
        [
            _points(mode="offline", output_tok_s=1010.0),
            _points(mode="serve", concurrency=8, output_tok_s=500.0, total_per_mtok_usd=0.2),
        ],
        ignore_index=True,
    )
    diff = compare(offline_without_mode, new, 0.05)
    assert set(diff.attrs["keys"]) >= {"mode", "concurrency"}
    verdicts = dict(zip(zip(diff["mode"], diff["metric"].astype(str)), diff["verdict"]))
    assert verdicts[("offline", "output tok/s")] == "ok"
    assert verdicts[("serve", "(all)")] == ONLY_IN_NEW  # not compared with the offline point at batch 8

    slower = compare(
        new,
        pd.concat(
            [
                _points(mode="offline", output_tok_s=1010.0),
                _points(mode="serve", concurrency=8, output_tok_s=300.0, total_per_mtok_usd=0.2),
            ]
        ),
        0.05,
    )
    serve = slower[slower["mode"] == "serve"]
    assert list(serve["verdict"]) == ["ok", REGRESSION]  # cost unchanged, throughput down 40 %
    assert ONLY_IN_BASELINE not in set(slower["verdict"])


def test_stats_match_pytest_benchmarks_own():
    from pytest_benchmark.stats import Stats

    for data in ([0.3], [0.3, 0.1], [5.0, 1.0, 2.0, 2.5, 40.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]):
        theirs = Stats()
        for value in data:
            theirs.update(value)
        ours = stats(data)
        for field in ("min", "max", "mean", "stddev", "rounds", "median", "total", "ops", "stddev_outliers"):
            assert ours[field] == pytest.approx(getattr(theirs, field)), (field, data)
        assert set(Stats.fields) <= set(ours)


def test_the_json_is_read_by_pytest_benchmark_compare(tmp_path):
    base = write_run(
        tmp_path / "base",
        point_record(batch=1, output_tok_s=100.0),
        point_record(batch=1, output_tok_s=104.0),
        point_record(batch=4, output_tok_s=300.0),
    )
    new = write_run(
        tmp_path / "new", point_record(batch=1, output_tok_s=80.0), point_record(batch=4, output_tok_s=310.0)
    )
    assert gate(base, base, "--benchmark-json", tmp_path / "json" / "0001_base.json").returncode == 0
    assert gate(base, new, "--benchmark-json", tmp_path / "json" / "0002_new.json").returncode == 1

    written = json.loads((tmp_path / "json" / "0002_new.json").read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(written)
    batch1 = "tiny-dense/cpu-vcpu/vllm/batch1/isl16/osl16"
    speed = next(b for b in written["benchmarks"] if b["name"] == f"s_per_output_token[{batch1}]")
    assert speed["stats"]["ops"] == pytest.approx(80.0)  # ops is output tok/s
    assert speed["params"] == {
        "mode": "offline",
        "model": "tiny-dense",
        "hardware": "cpu-vcpu",
        "engine": "vllm",
        "precision": "bf16",  # a record that does not say is matched as BF16
        "batch_size": 1,
        "isl": 16,
        "osl": 16,
    }
    assert json.loads((tmp_path / "json" / "0001_base.json").read_text())["benchmarks"][0]["stats"]["rounds"] == 2

    # pytest-benchmark itself, from a folder without a conftest.py, as a user would run it.
    files = ["json/0001_base.json", "json/0002_new.json"]
    table = subprocess.run(
        [PYTEST_BENCHMARK, "compare", *files], capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120
    )
    assert table.returncode == 0, table.stdout + table.stderr
    assert "Failed to load" not in table.stdout + table.stderr
    assert "benchmark 'cost: USD per million tokens': 4 tests" in table.stdout
    assert "s_per_output_token[tiny-dense/cpu-vcpu/vllm/batch4/isl16/osl16] (0002_new)" in table.stdout
    between = subprocess.run(
        [PYTEST_BENCHMARK, "compare", "--between", "median", *files],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert between.returncode == 0, between.stdout + between.stderr
    assert "ERROR" not in between.stdout and f"usd_per_mtok[{batch1}]" in between.stdout
