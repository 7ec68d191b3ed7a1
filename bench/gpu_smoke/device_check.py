"""Ten minutes on one H100 or H200: what a maintainer learns first about tokencost's GPU path.

    PYTHONUNBUFFERED=1 python -m bench.gpu_smoke.device_check --out DIR [--budget-s 540]

1. The GPU smoke test, quick (`python -m bench.gpu_smoke --quick`): NVML's counter period, counter against
   sampled power, the GPU mapping, `doctor --require-gpu` and fork safety (about 3 minutes).
2. If vLLM can be imported: a two-point vLLM sweep, `tokencost run --models tiny-dense --engines vllm
   --batch-sizes 1,4 --isl 128 --osl 32` with engine.startup_timeout_s = 300 (compile and CUDA graphs on),
   judged as the smoke test's vllm-offline check judges it (ok, nvml-counter energy, engine.effective's KV
   blocks, block size and model runner, the prefix cache's counters); its log is searched for the model runner
   vLLM chose ("Using V2 Model Runner", vllm/v1/worker/gpu_worker.py) and the attention backend it logged.

DIR/device_check.json holds the verdict of each part and what it found; DIR/smoke/gpu_smoke.json and
DIR/vllm-run/ (records.jsonl, the run's log) hold the details. Exit status 0 when nothing FAILed.
"""

import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench.gpu_smoke.smoke import FAIL, PASS, SKIP, child_env, judge_vllm, last_line, run_command

SUMMARY_FILE = "device_check.json"
SWEEP = ["--models", "tiny-dense", "--engines", "vllm", "--batch-sizes", "1,4", "--isl", "128", "--osl", "32"]
SWEEP_SUITE = """# The device check's two-point vLLM sweep (bench.gpu_smoke.device_check).
min_window_s = 3.0
point_timeout_s = 120.0
[workload]
requests_per_batch = 2
[engine]
startup_timeout_s = 300.0
gpu_memory_utilization = 0.3
"""
ATTENTION = re.compile(r"Using (\w+) (?:attention )?backend", re.IGNORECASE)
V2_RUNNER = "Using V2 Model Runner"
MIN_SWEEP_S = 120.0  # a vLLM start alone takes a minute or two


def smoke(out: Path, budget_s: float, runner=run_command) -> dict[str, Any]:
    """The quick smoke test in a child process; its summary file's verdict and checks."""
    done = runner(
        [sys.executable, "-m", "bench.gpu_smoke", "--quick", "--budget-s", f"{budget_s:g}", "--out", out],
        child_env(os.environ),
        budget_s + 60,
    )
    summary_file = out / "gpu_smoke.json"
    text = summary_file.read_text() if summary_file.is_file() else ""
    summary = json.loads(text) if text.strip() else {}
    checks = [{"name": c["name"], "status": c["status"], "detail": c["detail"]} for c in summary.get("checks", [])]
    status = summary.get("status") or FAIL
    return {"status": status, "exit": done.returncode, "checks": checks, "last_line": last_line(done.stdout)}


def vllm_sweep(out: Path, timeout_s: float, runner=run_command) -> dict[str, Any]:
    """Two vLLM points through `tokencost run`, judged as the vllm-offline smoke check is, and what its log says."""
    if find_spec("vllm") is None:
        return {"status": SKIP, "detail": "vLLM cannot be imported here (install the cuda extra)"}
    out.mkdir(parents=True, exist_ok=True)
    suite = out / "device-check.toml"
    suite.write_text(SWEEP_SUITE)
    run_dir = out / "run"
    argv = [sys.executable, "-m", "tokencost.cli.main", "run", "--suite", suite, *SWEEP, "--out", run_dir]
    done = runner(argv, child_env(os.environ), timeout_s)
    (out / "run.log").write_text(done.stdout + done.stderr)
    records_file = run_dir / "records.jsonl"
    records = [json.loads(line) for line in records_file.read_text().splitlines()] if records_file.is_file() else []
    verdict = judge_vllm(records, 2, done, "offline")
    log = done.stdout + done.stderr
    return {
        "status": verdict.status,
        "detail": verdict.detail,
        "points": verdict.values["points"],
        "log_says_v2_model_runner": V2_RUNNER in log,
        "attention_backends_logged": sorted(set(ATTENTION.findall(log))),
        "exit": done.returncode,
    }


def main(argv: list[str] | None = None, runner=run_command, echo=print, clock=time.monotonic) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu_smoke.device_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help=f"folder for {SUMMARY_FILE} and the details")
    parser.add_argument("--budget-s", type=float, default=540.0, help="time for both parts (default 540)")
    args = parser.parse_args(argv)
    if not 2 * MIN_SWEEP_S <= args.budget_s < 86400:
        parser.error(f"--budget-s: {args.budget_s:g} is not between {2 * MIN_SWEEP_S:g} s and a day")
    args.out.mkdir(parents=True, exist_ok=True)
    start = clock()
    summary: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    smoke_budget = min(200.0, args.budget_s - MIN_SWEEP_S - 60)
    summary["smoke"] = smoke(args.out / "smoke", smoke_budget, runner)
    echo(f"{summary['smoke']['status']}  smoke test (quick): {summary['smoke']['last_line']}", flush=True)
    left = args.budget_s - (clock() - start)
    if left < MIN_SWEEP_S:
        summary["vllm"] = {"status": SKIP, "detail": f"{left:.0f} s of the budget left"}
    else:
        summary["vllm"] = vllm_sweep(args.out / "vllm-run", left, runner)
    echo(f"{summary['vllm']['status']}  vLLM two-point sweep: {summary['vllm']['detail']}", flush=True)
    failed = any(part["status"] == FAIL for part in (summary["smoke"], summary["vllm"]))
    summary["status"] = FAIL if failed else PASS
    summary["seconds"] = round(clock() - start, 1)
    (args.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))
    echo(f"{summary['status']}: summary in {args.out / SUMMARY_FILE}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
