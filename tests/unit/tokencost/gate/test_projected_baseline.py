"""`tokencost compare` with a baseline of published projections: a measured NEW replaces them ("now-measured", with
how far each was off against its error band), unmeasured ones stay "still-projected", and neither fails the gate."""

import json

import pandas as pd
import pytest

from tests.support.records_factory import point_record, write_run
from tokencost.gate.compare import (
    NOW_MEASURED,
    ONLY_IN_NEW,
    STILL_PROJECTED,
    compare,
    load_points,
)
from tokencost.pricing.assumptions import load_assumptions
from tokencost.pricing.catalog import load_catalog
from tokencost.pricing.priced_runs import Pricing

PROJECTED = "projected: serving model calibrated on h100-sxm (vLLM, ML.ENERGY v3), held-out error +/-16%"
MEASURED_BY = "measured by ML.ENERGY, priced by tokencost; vLLM 0.11.1, BF16"
H100 = {
    "model": "llama-3.1-8b",
    "accelerator": "NVIDIA H100 80GB HBM3",
    "units": 1,
    "method": "nvml-counter",
    "isl": 1024,
    "osl": 1024,
}


def tokencost(capsys, *argv):
    """Exit code, stdout and stderr of the command line run in this process."""
    from tokencost.cli.main import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def measured_run(path, *batches_and_tok_s):
    return write_run(path, *(point_record(batch=b, output_tok_s=t, **H100) for b, t in batches_and_tok_s))


def usd_per_mtok(run) -> dict[int, float]:
    """The run's $/M tokens by batch, priced as `tokencost compare` prices it (the default preset)."""
    points, _ = load_points(run, Pricing.of(load_assumptions(None), load_catalog()), "NEW")
    return dict(zip(points["batch_size"], points["total_per_mtok_usd"]))


def table_csv(path, *rows: dict):
    """A published table as committed: every row offline vLLM llama-3.1-8b on one h100-sxm at 1024/1024."""
    shared = {
        "mode": "offline",
        "model": "llama-3.1-8b",
        "hardware": "h100-sxm",
        "engine": "vllm",
        "concurrency": None,
        "request_rate": None,
        "isl": 1024,
        "osl": 1024,
        "accelerator_count": 1,
        "basis": "ignored",
        "usd_per_h owned": 2.5,
    }
    pd.DataFrame([shared | row for row in rows]).to_csv(path, index=False)
    return path


def projections(tmp_path):
    """NEW measures batch 8 (2000 tok/s) and 16 (4000 tok/s); the table projected 8, 16 and 32."""
    new = measured_run(tmp_path / "new", (8, 2000.0), (16, 4000.0))
    usd = usd_per_mtok(new)
    base = table_csv(
        tmp_path / "costs.csv",
        {
            "batch_size": 8,
            "output_tok_s": 2200.0,
            "total_per_mtok_usd": usd[8] * 1.2,
            "label": PROJECTED,
            "error_band": 0.16,
        },
        {
            "batch_size": 16,
            "output_tok_s": 3000.0,
            "total_per_mtok_usd": usd[16] * 0.9,
            "label": PROJECTED,
            "error_band": 0.16,
        },
        {"batch_size": 32, "output_tok_s": 5000.0, "total_per_mtok_usd": 0.05, "label": PROJECTED, "error_band": None},
    )
    return base, new


def table(out: str) -> list[dict]:
    lines = [line for line in out.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def verdicts(out: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(batch, metric) -> (change, band, verdict) from the printed table."""
    return {(r["batch"], r["metric"]): (r["change"], r["band"], r["verdict"]) for r in table(out)}


def prose(out: str) -> str:
    """The text under the table, wrapped lines joined again; those after the counts fit 120 columns."""
    lines = [line for line in out.splitlines() if line and not line.startswith("|")]
    assert all(len(line) <= 120 for line in lines[1:]), [line for line in lines[1:] if len(line) > 120]
    return " ".join(line.strip() for line in lines)


def test_a_measured_run_replaces_the_projections_it_covers_and_passes(tmp_path, capsys):
    base, new = projections(tmp_path)
    code, out, err = tokencost(capsys, "compare", base, new)
    assert code == 0, out + err
    assert verdicts(out) == {
        ("8", "$/M input+output"): ("", "off +20.0%, outside +/-16%", NOW_MEASURED),
        ("8", "output tok/s"): ("", "off +10.0%, in +/-16%", NOW_MEASURED),
        ("16", "$/M input+output"): ("", "off -10.0%, in +/-16%", NOW_MEASURED),
        ("16", "output tok/s"): ("", "off -25.0%, outside +/-16%", NOW_MEASURED),  # 25 % slower than projected
        ("32", "(all)"): ("", "", STILL_PROJECTED),
    }
    text = prose(out)
    assert "0 regressed, 0 ok, 0 improved, 0 only in baseline, 0 only in new." in text
    assert (
        "2 projected rows are now measured: projection off by a median -7.5% in output tok/s "
        "(range -25.0..+10.0%), 1 of 2 within their error band."
    ) in text
    assert (
        "In $/M input+output it was off by a median +5.0% (range -10.0..+20.0%), 1 of 2 within their error band."
        in text
    )
    assert (
        "1 projected row not measured in NEW (still-projected); projections never fail the gate, "
        "even with --require-all."
    ) in text
    assert "gpus" not in table(out)[0]  # one GPU count throughout says nothing
    assert err == ""

    code, out, err = tokencost(capsys, "compare", base, new, "--require-all")
    assert code == 0, out + err  # a projection is no measurement one must repeat


def test_the_diff_holds_each_projections_error_and_band(tmp_path):
    base, new = projections(tmp_path)
    pricing = Pricing.of(load_assumptions(None), load_catalog())
    diff = compare(load_points(base, pricing, "BASELINE")[0], load_points(new, pricing, "NEW")[0], 0.05)
    now = diff[diff["verdict"] == NOW_MEASURED]
    now = now.set_index(["batch_size", now["metric"].astype(str)])
    assert now["projection_off"].to_dict() == pytest.approx(
        {
            ("8", "$/M input+output"): 0.20,
            ("8", "output tok/s"): 0.10,
            ("16", "$/M input+output"): -0.10,
            ("16", "output tok/s"): -0.25,
        }
    )
    assert now["within_band"].to_dict() == {
        ("8", "$/M input+output"): False,
        ("8", "output tok/s"): True,
        ("16", "$/M input+output"): True,
        ("16", "output tok/s"): False,
    }
    [still] = diff[diff["verdict"] == STILL_PROJECTED].to_dict("records")
    assert still["batch_size"] == "32" and pd.isna(still["error_band"]) and pd.isna(still["projection_off"])


def test_a_projection_without_a_band_is_reported_as_such(tmp_path, capsys):
    new = measured_run(tmp_path / "new", (8, 2000.0))
    base = table_csv(
        tmp_path / "costs.csv",
        {"batch_size": 8, "output_tok_s": 1500.0, "total_per_mtok_usd": 0.1, "label": PROJECTED, "error_band": None},
    )
    code, out, err = tokencost(capsys, "compare", base, new)
    assert code == 0, out + err
    assert verdicts(out)[("8", "output tok/s")] == ("", "off -25.0%, no band", NOW_MEASURED)
    assert (
        "1 projected row is now measured: projection off by a median -25.0% in output tok/s "
        "(range -25.0..-25.0%), none with an error band."
    ) in prose(out)


def test_rows_measured_by_others_are_gated_like_any_measurement(tmp_path, capsys):
    new = measured_run(tmp_path / "new", (8, 2000.0), (64, 5000.0))
    usd = usd_per_mtok(new)
    base = table_csv(
        tmp_path / "costs.csv",
        {"batch_size": 8, "output_tok_s": 2200.0, "total_per_mtok_usd": usd[8], "label": PROJECTED, "error_band": 0.16},
        {
            "batch_size": 64,
            "output_tok_s": 6000.0,
            "total_per_mtok_usd": usd[64] * 1.2,
            "label": MEASURED_BY,
            "error_band": 0.16,
        },
        {
            "batch_size": 128,
            "output_tok_s": 9000.0,
            "total_per_mtok_usd": 0.02,
            "label": MEASURED_BY,
            "error_band": 0.16,
        },
    )
    code, out, err = tokencost(capsys, "compare", base, new)
    assert code == 1, out + err
    found = verdicts(out)
    assert found[("64", "output tok/s")] == ("-16.7%", "5.0% (threshold)", "REGRESSION")
    assert found[("64", "$/M input+output")] == ("-16.7%", "5.0% (threshold)", "improved")
    assert found[("128", "(all)")] == ("", "", "only-in-baseline")
    assert found[("8", "output tok/s")] == ("", "off +10.0%, in +/-16%", NOW_MEASURED)
    assert "1 regressed, 0 ok, 0 improved, 1 only in baseline, 0 only in new." in prose(out)
    assert err.strip() == "tokencost: gate failed: 1 point(s) regressed"

    faster = measured_run(tmp_path / "faster", (8, 2000.0), (64, 6000.0))
    assert tokencost(capsys, "compare", base, faster)[0] == 0
    code, _, err = tokencost(capsys, "compare", base, faster, "--require-all")
    assert code == 1 and "0 point(s) regressed, 1 missing (--require-all)" in err  # batch 128, not the projection


def test_a_projection_is_matched_on_its_gpu_count(tmp_path, capsys):
    new = measured_run(tmp_path / "new", (8, 2000.0), (16, 4000.0))
    base = table_csv(
        tmp_path / "costs.csv",
        {"batch_size": 8, "output_tok_s": 2200.0, "total_per_mtok_usd": 0.1, "label": PROJECTED, "error_band": 0.16},
        {
            "batch_size": 16,
            "output_tok_s": 8000.0,
            "total_per_mtok_usd": 0.1,
            "label": PROJECTED,
            "error_band": 0.16,
            "accelerator_count": 2,
        },
    )
    code, out, err = tokencost(capsys, "compare", base, new)
    assert code == 0, out + err
    rows = [(r["batch"], r["gpus"], r["metric"], r["verdict"]) for r in table(out)]
    assert ("16", "2", "(all)", STILL_PROJECTED) in rows  # two GPUs projected, one measured
    assert ("16", "1", "(all)", ONLY_IN_NEW) in rows
    assert ("8", "1", "output tok/s", NOW_MEASURED) in rows


def test_a_measurement_in_the_baseline_outranks_a_projection_of_the_same_point():
    point = {
        "mode": "offline",
        "model": "m",
        "hardware": "h100-sxm",
        "engine": "vllm",
        "batch_size": 8,
        "isl": 1024,
        "osl": 1024,
        "accelerator_count": 1,
        "total_per_mtok_usd": 0.1,
    }
    baseline = pd.DataFrame(
        [
            point | {"output_tok_s": 1000.0, "label": "tok/s measured; energy measured"},
            point | {"output_tok_s": 5000.0, "label": PROJECTED, "error_band": 0.1},
        ]
    )
    diff = compare(baseline, pd.DataFrame([point | {"output_tok_s": 800.0}]), 0.05)
    speed = diff[diff["metric"] == "output tok/s"].iloc[0]
    assert speed["verdict"] == "REGRESSION" and speed["median_baseline"] == 1000.0


def test_the_json_carries_the_verdicts(tmp_path, capsys):
    base, new = projections(tmp_path)
    code, out, err = tokencost(capsys, "compare", base, new, "--benchmark-json", tmp_path / "bench.json")
    assert code == 0, out + err
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["tokencost_compare"]["counts"] == {
        "REGRESSION": 0,
        "only-in-baseline": 0,
        "only-in-new": 0,
        "improved": 0,
        "ok": 0,
        NOW_MEASURED: 2,
        STILL_PROJECTED: 1,
    }
    info = {b["name"]: b["extra_info"] for b in written["benchmarks"]}
    speed = info["s_per_output_token[llama-3.1-8b/h100-sxm/vllm/batch16/isl1024/osl1024]"]
    assert speed["verdict"] == NOW_MEASURED and speed["projection_off"] == pytest.approx(-0.25)
    assert speed["error_band"] == 0.16 and speed["within_error_band"] is False
    assert info["usd_per_mtok[llama-3.1-8b/h100-sxm/vllm/batch8/isl1024/osl1024]"]["within_error_band"] is False


def test_a_projection_is_refused_as_new(tmp_path, capsys):
    base, new = projections(tmp_path)
    code, out, err = tokencost(capsys, "compare", new, base)
    assert code == 2 and out == ""
    assert err == (
        f"tokencost: error: NEW: {base} holds 3 projected row(s) (label 'projected...'), and a projection "
        "is not a measurement; give a measured run, its records.jsonl or its costs.csv\n"
    )


def test_an_error_band_that_is_no_fraction_is_one_line(tmp_path, capsys):
    new = measured_run(tmp_path / "new", (8, 2000.0))
    base = table_csv(
        tmp_path / "costs.csv",
        {"batch_size": 8, "output_tok_s": 2200.0, "total_per_mtok_usd": 0.1, "label": PROJECTED, "error_band": "16%"},
    )
    code, _, err = tokencost(capsys, "compare", base, new)
    assert code == 2 and err.count("\n") == 1
    assert "BASELINE:" in err and "error_band that is not a fraction ('16%')" in err
