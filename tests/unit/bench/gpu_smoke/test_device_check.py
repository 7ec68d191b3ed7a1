"""The device check's flow and summary, with its two child commands faked (the smoke test and `tokencost run`)."""

import json
from pathlib import Path

from bench.gpu_smoke import device_check
from bench.gpu_smoke.smoke import FAIL, PASS, SKIP, Done
from tests.unit.bench.gpu_smoke.test_vllm_smoke import vllm_records


def fake_runner(smoke_status=PASS, records=None, log="INFO Using V2 Model Runner\nINFO Using FLASH_ATTN backend.\n"):
    calls = []

    def run(argv, env, timeout_s):
        calls.append(argv)
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        if "bench.gpu_smoke" in argv:
            checks = [{"name": "doctor", "status": smoke_status, "detail": "d"}]
            (out / "gpu_smoke.json").write_text(json.dumps({"status": smoke_status, "checks": checks}))
            return Done(0 if smoke_status == PASS else 1, f"{smoke_status}: 1 passed\n")
        lines = "".join(json.dumps(r) + "\n" for r in (records if records is not None else vllm_records()[:2]))
        (out / "records.jsonl").write_text(lines)
        return Done(0, "", log)

    return run, calls


def test_the_smoke_test_then_two_vllm_points_are_summarised(tmp_path):
    run, calls = fake_runner()
    lines = []
    assert device_check.main(["--out", str(tmp_path)], runner=run, echo=lambda t, **k: lines.append(t)) == 0
    summary = json.loads((tmp_path / "device_check.json").read_text())
    assert summary["status"] == PASS and summary["smoke"]["checks"][0]["name"] == "doctor"
    assert summary["vllm"]["status"] == PASS and len(summary["vllm"]["points"]) == 2
    assert summary["vllm"]["log_says_v2_model_runner"] is True
    assert summary["vllm"]["attention_backends_logged"] == ["FLASH_ATTN"]
    smoke_argv, sweep_argv = calls
    assert "--quick" in smoke_argv
    assert sweep_argv[sweep_argv.index("--batch-sizes") + 1] == "1,4" and "--models" in sweep_argv
    assert lines[-1] == f"PASS: summary in {tmp_path / 'device_check.json'}"


def test_a_failed_smoke_check_or_vllm_point_fails_the_device_check_and_both_still_run(tmp_path):
    records = vllm_records()[:2]
    records[1]["energy"]["method"] = "estimated"
    run, calls = fake_runner(smoke_status=FAIL, records=records)
    assert device_check.main(["--out", str(tmp_path)], runner=run, echo=lambda t, **k: None) == 1
    summary = json.loads((tmp_path / "device_check.json").read_text())
    assert (summary["smoke"]["status"], summary["vllm"]["status"], len(calls)) == (FAIL, FAIL, 2)
    assert "measured by estimated" in summary["vllm"]["detail"]


def test_without_vllm_the_sweep_is_a_skip(tmp_path, monkeypatch):
    monkeypatch.setattr(device_check, "find_spec", lambda name: None)
    run, calls = fake_runner()
    assert device_check.main(["--out", str(tmp_path)], runner=run, echo=lambda t, **k: None) == 0
    summary = json.loads((tmp_path / "device_check.json").read_text())
    assert summary["vllm"]["status"] == SKIP and len(calls) == 1
