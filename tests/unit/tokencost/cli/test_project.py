"""`tokencost project`: calibrated by default, never past the KV cache, never from a CPU's efficiency."""

import json
import re

import pytest

from tests.conftest import CPU_DEMO
from tests.support.records_factory import point_record, write_run
from tests.unit.tokencost.cli.test_hostile_review import one_line_error, tokencost
from tokencost.analysis.bands import shipped_bands


def test_default_projection_is_calibrated_banded_and_fits_120_columns(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "qwen3-30b-a3b", "--gpu", "h100-sxm", "--batch-sizes", "1,8,32,512"
    )
    assert code == 0, err
    assert max(map(len, out.splitlines())) <= 120
    text = " ".join(out.split())  # long lines are wrapped
    assert "calibrated on h100-sxm" in text
    assert "batch 512 not projected: the KV cache of 1 x h100-sxm holds 89 sequences" in text
    rows = [line for line in out.splitlines() if re.match(r"\|\s+\d", line)]
    assert [int(r.split("|")[1]) for r in rows] == [1, 8, 32, 89]  # stops at the batch that fits, and projects it
    assert [r.split("|")[5].strip() for r in rows] == ["small batch", "small batch", "mid batch", "KV-saturated"]
    for name in ("small batch", "mid batch", "KV-saturated"):  # each regime's band, as held out
        band = shipped_bands()[("h100-sxm", name)]
        assert f"Band, {name}: {band.low:.2f}-{band.high:.2f} x projected, held out on {band.points} points" in text
    projected = float(rows[0].split("|")[3].replace(",", ""))
    low, high = (float(x.replace(",", "")) for x in rows[0].split("|")[4].split("-"))
    band = shipped_bands()[("h100-sxm", "small batch")]
    assert (low, high) == (pytest.approx(projected * band.low, abs=1), pytest.approx(projected * band.high, abs=1))


def test_another_gpu_says_its_calibration_is_borrowed(capsys):
    code, out, _ = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h200")
    assert code == 0
    assert "calibration fitted on h100-sxm, applied to h200 without measurements of it" in " ".join(out.split())


def test_a_given_efficiency_has_no_error_band(capsys):
    code, out, _ = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--efficiency", "0.5")
    assert code == 0
    assert "roofline x 50.0% efficiency (given on the command line), no held-out error" in " ".join(out.split())
    assert "| n/a " in out


def test_an_efficiency_measured_on_cpus_is_refused(capsys):
    line = one_line_error(
        capsys, "--efficiency", "project", "--model", "qwen3-30b-a3b", "--gpu", "h200", "--efficiency", CPU_DEMO
    )
    assert "measured on CPUs" in line


def test_an_efficiency_from_another_model_kind_says_so(tmp_path, capsys):
    run = write_run(
        tmp_path / "run",
        point_record(
            model="llama-3.1-8b",
            batch=8,
            output_tok_s=500.0,
            accelerator="NVIDIA H100 80GB HBM3",
            units=1,
            power_w=400.0,
            method="nvml-counter",
            isl=128,
            osl=128,
        ),
    )
    code, out, err = tokencost(capsys, "project", "--model", "qwen3-30b-a3b", "--gpu", "h100-sxm", "--efficiency", run)
    assert code == 0, err
    assert "no moe point: taken from dense models" in " ".join(out.split())


def test_a_cpu_is_no_projection_target(capsys):
    line = one_line_error(capsys, "--gpu", "project", "--model", "tiny-dense", "--gpu", "cpu-vcpu")
    assert "not a GPU" in line


def test_nothing_fitting_exits_1_naming_the_fewest_gpus_that_fit(capsys):
    code, out, err = tokencost(capsys, "project", "--model", "qwen3-32b", "--gpu", "l4")
    assert code == 1
    assert "qwen3-32b does not fit 1 x l4 at all" in out and "$/M" not in out
    assert err == (
        "tokencost: nothing fits: qwen3-32b at ISL 1024 + OSL 1024 does not fit 1 x l4; 4 x l4 hold it: give --gpus 4\n"
    )
    for gpus, fits in (("2", False), ("4", True)):  # the count named is the fewest that project itself fits
        code, out, _ = tokencost(capsys, "project", "--model", "qwen3-32b", "--gpu", "l4", "--gpus", gpus)
        assert (code, "$/M" in out) == ((0, True) if fits else (1, False))


def test_nothing_fitting_even_eight_gpus_says_so(tmp_path, capsys):
    figures = {"memory_gb": 4, "bandwidth_tbs": 1.0, "bf16_tflops": 100, "tdp_w": 300, "price_usd": 1000}
    small = tmp_path / "small.toml"
    small.write_text(
        '[small-gpu]\ndisplay_name = "Small GPU"\nmatch = "SMALL GPU"\n'
        + "".join(
            f'{key} = {{ value = {value}, source = "a test", date = "2026" }}\n' for key, value in figures.items()
        )
    )
    argv = ["project", "--model", "qwen3-32b", "--gpu", "small-gpu", "--hardware", small]
    code, _, err = tokencost(capsys, *argv)
    assert code == 1
    assert err.startswith("tokencost: nothing fits: qwen3-32b at ISL 1024 + OSL 1024 does not fit 1 x small-gpu, nor 8")
    assert "give a GPU with more memory, shorter --isl/--osl, or a smaller model" in err
    code, _, err = tokencost(capsys, *argv, "--gpus", "8")
    assert code == 1 and "does not fit 8 x small-gpu; give a GPU" in err


def test_each_batch_gives_the_pace_per_user_and_a_ttft_with_the_method(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--batch-sizes", "1,64", "--json"
    )
    assert code == 0, err
    document = json.loads(out)
    one, many = document["rows"]
    for row in (one, many):
        assert row["tok_s_per_user"] * row["batch_size"] == pytest.approx(row["projected_output_tok_s"])
    assert many["tok_s_per_user"] < one["tok_s_per_user"] and many["ttft_ms"] > one["ttft_ms"] > 0
    assert any(n.startswith("per user: tok/s per user = projected output tok/s / batch") for n in document["notes"])
    code, out, _ = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm")
    assert "tok/s per user" in out and "TTFT ms" in out and max(map(len, out.splitlines())) <= 120


def test_several_gpus_say_how_they_are_projected_and_what_is_assumed(capsys):
    code, out, err = tokencost(capsys, "project", "--model", "qwen3-32b", "--gpu", "h100-sxm", "--gpus", "4", "--json")
    assert code == 0, err
    label = json.loads(out)["rows"][0]["label"]
    assert "on 4 GPUs: tensor parallel" in label and "1-GPU efficiency (an assumption)" in label
    assert "4 and 8 GPUs extrapolated from 2 (an assumption" in label


def test_an_fp8_kv_projection_says_it_is_uncalibrated_with_a_wider_band(capsys):
    argv = ("project", "--model", "qwen3-30b-a3b", "--gpu", "h100-sxm", "--batch-sizes", "1,8")
    _, bf16, _ = tokencost(capsys, *argv)
    code, out, err = tokencost(capsys, *argv, "--precision", "fp8", "--kv-cache-dtype", "fp8")
    assert code == 0, err
    text = " ".join(out.split())
    assert "FP8 weights, FP8 KV cache" in text
    small = shipped_bands()[("h100-sxm", "small batch")]
    assumed = small.widened("fp8-kv-fp8")  # no FP8-KV measurement: twice BF16's small-batch band
    assert assumed.high - 1 == pytest.approx(2 * (small.high - 1))
    assert "UNCALIBRATED for fp8-kv-fp8" in text
    assert f"Band, fp8-kv-fp8: {assumed.low:.2f}-{assumed.high:.2f} x projected, ASSUMED: 2 x the BF16 band" in text
    assert "held out on" in " ".join(bf16.split()) and "UNCALIBRATED" not in bf16 and "ASSUMED" not in bf16

    def tok_s(table):
        return [float(line.split("|")[3].replace(",", "")) for line in table.splitlines() if re.match(r"\|\s+\d", line)]

    assert all(fp8 > bf16 for fp8, bf16 in zip(tok_s(out), tok_s(bf16), strict=True))  # fewer bytes a step


def test_fp8_on_an_a100_is_projected_weight_only_and_labelled_so(capsys):
    code, out, err = tokencost(
        capsys, "project", "--model", "llama-3.1-8b", "--gpu", "a100-80gb-sxm", "--precision", "fp8", "--json"
    )
    assert code == 0, err
    import json

    document = json.loads(out)
    assert document["precision"] == {"weights": "fp8", "kv_cache": "bf16"}
    assert all(row["precision"] == "fp8" for row in document["rows"])
    assert "weight-only on a100-80gb-sxm" in document["rows"][0]["label"]
    assert any("no FP8 tensor cores" in note for note in document["notes"])


def test_fp4_before_blackwell_is_one_line(capsys):
    line = one_line_error(
        capsys, "--precision", "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--precision", "fp4"
    )
    assert "no FP4 tensor cores" in line
    code, out, _ = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "b200", "--precision", "fp4")
    assert code == 0 and "UNCALIBRATED for fp4" in " ".join(out.split())


@pytest.mark.parametrize("value", ["FP8", "fp6", "", "nan"])
def test_a_precision_that_is_not_one_is_refused(capsys, value):
    code, _, err = tokencost(capsys, "project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--precision", value)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--precision" in err


def test_a_measured_efficiency_is_taken_from_points_of_the_precision_projected(capsys, tmp_path):
    h100 = {"accelerator": "NVIDIA H100 80GB HBM3", "units": 1, "power_w": 400.0, "method": "nvml-counter"}
    run = write_run(
        tmp_path / "run",
        point_record(model="llama-3.1-8b", batch=8, output_tok_s=500.0, isl=128, osl=128, **h100),
        point_record(
            model="llama-3.1-8b",
            batch=8,
            output_tok_s=900.0,
            isl=128,
            osl=128,
            precision={"weights": "fp8", "kv_cache": "fp8"},
            point="llama-3.1-8b/vllm-fp8-kv-fp8/batch8/isl128/osl128",
            **h100,
        ),
    )
    argv = ("project", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--efficiency", run)
    efficiencies = []
    for precision in ("bf16", "fp8"):
        code, out, err = tokencost(capsys, *argv, "--precision", precision, "--kv-cache-dtype", precision, "--json")
        assert code == 0, err
        efficiencies.append(json.loads(out)["efficiency"]["value"])
    assert efficiencies[0] != efficiencies[1]  # each from its own point, against its own roofline
    line = one_line_error(capsys, "--efficiency", *argv, "--precision", "fp8")  # fp8 weights, bf16 KV: not measured
    assert "has no fp8 point (it measured bf16, fp8-kv-fp8)" in line
