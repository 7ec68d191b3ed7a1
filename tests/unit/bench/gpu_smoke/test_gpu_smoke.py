"""The GPU smoke test's logic without a GPU: readings from simulated NVML on a fake clock, and a fake command
runner standing in for its child processes."""

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.energy.gpus import all_gpus, visible_gpus
from bench.energy.meters import NvmlMeter
from bench.energy.sampler import PowerSampler
from bench.errors import UserError
from bench.gpu_smoke import smoke as gpu_smoke
from bench.gpu_smoke.probes import fork_probe
from bench.gpu_smoke.smoke import (
    CHECKS,
    FAIL,
    FORK_PROBE,
    HARNESS_GPUS,
    PASS,
    PERIOD_PROBE,
    POWER_PROBE,
    SKIP,
    TORCH_GPUS,
    Check,
    CheckResult,
    Context,
    Done,
    compare_mapping,
    counter_vs_sampled,
    judge_counter_vs_sampled,
    judge_fork,
    judge_update_period,
    run_checks,
    run_command,
    update_period,
)
from tests.conftest import simulate
from tests.support import REPO
from tests.support.nvml_sim import SimulatedGpu

# 1. How often the counter changes


def stepped(sim, gpu, every_mj: int):
    """The simulated counter as NVML updates it: in steps of `every_mj` (300 W: 30 J is 100 ms)."""
    return lambda: sim.energy_mj(gpu) // every_mj * every_mj


def test_update_period_is_the_median_interval_between_changes(monkeypatch):
    gpu = SimulatedGpu(0, power_w=300.0)
    sim = simulate(monkeypatch, gpu)
    idle = update_period(stepped(sim, gpu, 30_000), 2.0, clock=sim.clock)
    load = update_period(stepped(sim, gpu, 6_000), 2.0, clock=sim.clock)
    assert round(idle["period_s"], 6) == 0.1 and idle["changes"] == 20
    assert round(load["period_s"], 6) == 0.02 and load["changes"] == 100
    result = judge_update_period(idle, load)
    assert (result.status, result.detail) == (PASS, "energy counter changes every 100.0 ms idle, 20.0 ms under load")
    assert result.values == {"idle_ms": 100.0, "under_load_ms": 20.0, "idle_changes": 20, "load_changes": 100}


def test_a_counter_changing_at_every_poll_or_never_fails(monkeypatch):
    gpu = SimulatedGpu(0, power_w=300.0)
    sim = simulate(monkeypatch, gpu)
    every_poll = update_period(lambda: sim.energy_mj(gpu), 0.5, clock=sim.clock)
    never = update_period(lambda: 7, 0.5, clock=sim.clock)
    assert never == {"period_s": None, "changes": 0}
    result = judge_update_period(every_poll, never)
    assert (result.status, result.detail) == (
        FAIL,
        "energy counter changes every 1.0 ms idle, no change seen under load; outside 5-200 ms idle and under load",
    )


# 2. Counter against sampled power


def test_counter_and_sampled_power_agree_on_a_steady_gpu(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, power_w=300.0))
    meter = NvmlMeter(all_gpus())

    def wait(seconds):  # the sampler's thread, on the fake clock: a sample every 0.1 s
        for _ in range(round(seconds / 0.1)):
            sim.clock.sleep(0.1)
            meter.sampler.sample_once()

    found = counter_vs_sampled(meter, wait, 8.0)
    assert found == {
        "method": "nvml-counter",
        "seconds": pytest.approx(8.0),
        "counter_w": pytest.approx(300.0),
        "sampled_w": 300.0,
        "samples": 80,
        "flags": [],
    }
    result = judge_counter_vs_sampled(found)
    assert (result.status, result.detail) == (
        PASS,
        "under load the counter gives 300.0 W and 80 samples average 300.0 W (+0.0%)",
    )
    assert (result.values["counter_w"], result.values["sampled_w"], result.values["ratio"]) == (300.0, 300.0, 1.0)


@pytest.mark.parametrize(
    "counter_w, status, detail",
    [
        (315.0, PASS, "under load the counter gives 315.0 W and 80 samples average 300.0 W (+5.0%)"),
        (
            316.0,
            FAIL,
            "under load the counter gives 316.0 W and 80 samples average 300.0 W (+5.3%): more than 5% apart",
        ),
        (
            280.0,
            FAIL,
            "under load the counter gives 280.0 W and 80 samples average 300.0 W (-6.7%): more than 5% apart",
        ),
    ],
)
def test_counter_and_sampled_power_must_be_within_5_percent(counter_w, status, detail):
    found = {
        "method": "nvml-counter",
        "seconds": 8.0,
        "counter_w": counter_w,
        "sampled_w": 300.0,
        "samples": 80,
        "flags": [],
    }
    result = judge_counter_vs_sampled(found)
    assert (result.status, result.detail) == (status, detail)


def test_no_counter_reading_fails():
    found = {
        "method": "nvml-sampled",
        "seconds": 8.0,
        "counter_w": 290.0,
        "sampled_w": 300.0,
        "samples": 80,
        "flags": ["counter-unavailable"],
    }
    result = judge_counter_vs_sampled(found)
    assert (result.status, result.detail) == (
        FAIL,
        "no counter reading: method nvml-sampled, flags ['counter-unavailable']",
    )


# A fake command runner: answers by program, `python -c CODE` by its code


class FakeRunner:
    def __init__(self, answers: dict):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, env, timeout_s):
        self.calls.append((argv, env, timeout_s))
        tail = tuple(str(a) for a in argv[1:])
        if tail in self.answers:  # a probe or torch's view, by its program
            key = tail
        else:
            key = argv[3] if argv[2] == "tokencost.cli.main" else argv[2]  # doctor, run; pytest, pip
        answer = self.answers[key]
        return answer(argv, env) if callable(answer) else answer


def json_done(value) -> Done:
    return Done(0, "some log line\n" + json.dumps(value) + "\n")


def context(runner, tmp_path, **kw) -> Context:
    return Context(runner, {"PATH": "/usr/bin"}, tmp_path, **kw)


# 3. GPU mapping: the harness against torch, case by case


def harness_view(argv, env) -> Done:
    """The harness's answer, computed here on the simulated GPUs as the child would."""
    try:
        return json_done([d.uuid for d in visible_gpus(env)])
    except UserError as e:
        return Done(1, "", f"bench.errors.UserError: {e}")


def torch_view(u0, u1, swap_1_0=False):
    """torch's answer as CUDA gives it on two identical GPUs."""
    table = {
        (None, None): [u0, u1],
        ("0", None): [u0],
        (u0, None): [u0],
        (u0[:12], None): [u0],
        (None, "PCI_BUS_ID"): [u0, u1],
        ("1", None): [u1],
        ("1,0", None): [u0, u1] if swap_1_0 else [u1, u0],
    }
    return lambda argv, env: json_done(table[env.get("CUDA_VISIBLE_DEVICES"), env.get("CUDA_DEVICE_ORDER")])


def test_mapping_passes_when_the_harness_and_torch_agree_in_every_case(monkeypatch, tmp_path):
    g0, g1 = SimulatedGpu(0), SimulatedGpu(1)
    simulate(monkeypatch, g0, g1)
    runner = FakeRunner({HARNESS_GPUS: harness_view, TORCH_GPUS: torch_view(g0.uuid, g1.uuid)})
    ctx = context(runner, tmp_path)
    ctx.env["CUDA_VISIBLE_DEVICES"] = "1"  # the caller's own pinning is not carried into the cases
    result = gpu_smoke.check_mapping(ctx, 240)
    assert (result.status, result.detail) == (
        PASS,
        "bench.energy.gpus and torch agree in all 7 cases: unset, 0, uuid, uuid prefix, PCI_BUS_ID order, 1, 1,0",
    )
    assert result.values["cases"]["1,0"] == {
        "env": {"CUDA_VISIBLE_DEVICES": "1,0"},
        "harness": [g1.uuid, g0.uuid],
        "torch": [g1.uuid, g0.uuid],
    }
    assert result.values["cases"]["uuid prefix"]["env"] == {"CUDA_VISIBLE_DEVICES": "GPU-0a1e0000"}
    assert len(runner.calls) == 1 + 7 * 2  # torch's list first, then both views of each case


def test_mapping_fails_naming_the_case_that_disagrees(monkeypatch, tmp_path):
    g0, g1 = SimulatedGpu(0), SimulatedGpu(1)
    simulate(monkeypatch, g0, g1)
    runner = FakeRunner({HARNESS_GPUS: harness_view, TORCH_GPUS: torch_view(g0.uuid, g1.uuid, swap_1_0=True)})
    result = gpu_smoke.check_mapping(context(runner, tmp_path), 240)
    assert (result.status, result.detail) == (
        FAIL,
        f"1,0: harness ['{g1.uuid}', '{g0.uuid}'] but torch ['{g0.uuid}', '{g1.uuid}']",
    )


def test_a_harness_error_is_a_disagreement():
    views = {
        "unset": {"env": {}, "harness": "error: exit 1: UserError: ...", "torch": ["GPU-a"]},
        "0": {"env": {"CUDA_VISIBLE_DEVICES": "0"}, "harness": ["GPU-a"], "torch": ["GPU-a"]},
    }
    result = compare_mapping(views)
    assert (result.status, result.detail) == (FAIL, "unset: harness error: exit 1: UserError: ... but torch ['GPU-a']")


def test_one_gpu_has_five_cases_and_no_torch_gpu_fails(tmp_path):
    assert list(gpu_smoke.mapping_cases(["GPU-0a1e0000-1111"])) == [
        "unset",
        "0",
        "uuid",
        "uuid prefix",
        "PCI_BUS_ID order",
    ]
    runner = FakeRunner({TORCH_GPUS: json_done([])})
    with pytest.raises(gpu_smoke.CheckFailed, match=r"^torch sees no GPU: \[\]$"):
        gpu_smoke.check_mapping(context(runner, tmp_path), 240)


# 7. Fork safety: forked children read NVML while the sampler polls


def test_fork_probe_counts_children_that_answered(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    sampler = PowerSampler(all_gpus(), interval_s=0.002)
    found = fork_probe(sampler, forks=4)
    assert {k: found[k] for k in ("forks", "hangs", "error_count", "errors", "sampler_interval_s")} == {
        "forks": 4,
        "hangs": 0,
        "error_count": 0,
        "errors": [],
        "sampler_interval_s": 0.002,
    }
    assert found["samples"] >= 1
    result = judge_fork(found | {"samples": 120})
    assert (result.status, result.detail) == (
        PASS,
        "4 forked children read the counter while the sampler polled every 2 ms (120 samples): 0 hung, 0 failed",
    )


def test_fork_probe_stops_after_the_hangs_that_fail_it(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    hang = threading.Event().wait  # time.sleep is the fake clock's here
    found = fork_probe(
        PowerSampler(all_gpus(), interval_s=0.002), forks=50, join_timeout_s=0.2, max_hangs=2, work=lambda: hang(60)
    )
    assert (found["forks"], found["hangs"]) == (2, 2)
    assert judge_fork(found).status == FAIL


def test_fork_probe_reports_children_that_failed(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))

    def failing():
        raise RuntimeError("NVML Unknown Error")

    found = fork_probe(PowerSampler(all_gpus(), interval_s=0.002), forks=2, work=failing)
    assert (found["hangs"], found["error_count"], found["errors"]) == (0, 2, ["RuntimeError: NVML Unknown Error"] * 2)
    result = judge_fork(found | {"samples": 9})
    assert (result.status, result.detail) == (
        FAIL,
        "2 forked children read the counter while the sampler polled every 2 ms (9 samples): 0 hung, 2 failed "
        "(RuntimeError: NVML Unknown Error; RuntimeError: NVML Unknown Error)",
    )


# 4. doctor, 5. pytest -m gpu


DOCTOR_OK = (
    "nvidia-ml-py  13.615.71\nenergy method      nvml-counter (boundary gpu): the engine's ...\n"
    "GPU run: every requirement is met\n"
)


def test_doctor_passes_on_exit_0_and_fails_naming_what_is_missing(tmp_path):
    ok = gpu_smoke.check_doctor(context(FakeRunner({"doctor": Done(0, DOCTOR_OK)}), tmp_path), 180)
    assert (ok.status, ok.detail) == (
        PASS,
        "every GPU-run requirement is met; nvml-counter (boundary gpu): the engine's ...",
    )
    missing = "C compiler  none\nMISSING: C compiler: no cc or gcc on PATH\nMISSING: Python.h: missing\n"
    bad = gpu_smoke.check_doctor(context(FakeRunner({"doctor": Done(1, missing)}), tmp_path), 180)
    assert (bad.status, bad.detail) == (FAIL, "C compiler: no cc or gcc on PATH; Python.h: missing")


def test_the_doctor_runs_through_the_cli_module(tmp_path):
    runner = FakeRunner({"doctor": Done(0, DOCTOR_OK)})
    gpu_smoke.check_doctor(context(runner, tmp_path), 180)
    [(argv, _, timeout_s)] = runner.calls
    assert argv[1:] == ["-m", "tokencost.cli.main", "doctor", "--require-gpu"] and timeout_s == 180


def test_pytest_runs_the_files_that_hold_gpu_tests(tmp_path):
    runner = FakeRunner({"pytest": Done(0, "....\n4 passed, 150 deselected in 9.12s\n")})
    result = gpu_smoke.check_pytest_gpu(context(runner, tmp_path, repo=REPO), 240)
    assert (result.status, result.detail) == (PASS, "4 passed, 150 deselected in 9.12s")
    [(argv, _, _)] = runner.calls
    assert argv[1:7] == ["-m", "pytest", "-m", "gpu", "-q", "-p"]
    assert "tests/unit/bench/energy/test_gpus.py" in argv and "tests/unit/bench/energy/test_doctor.py" in argv
    assert "tests/unit/bench/test_gpu_smoke.py" not in argv


@pytest.mark.parametrize(
    "done, detail",
    [
        (
            Done(1, "F.\nFAILED tests/x.py::test_a - assert 1 == 2\n1 failed, 1 passed in 1s\n"),
            "FAILED tests/x.py::test_a - assert 1 == 2",
        ),
        (Done(0, "ss\n2 skipped, 150 deselected in 1s\n"), "no gpu test passed: 2 skipped, 150 deselected in 1s"),
        (Done(None, "..\n"), "timed out; last line: .."),
    ],
)
def test_pytest_fails_on_failures_on_skips_alone_and_on_a_timeout(tmp_path, done, detail):
    result = gpu_smoke.check_pytest_gpu(context(FakeRunner({"pytest": done}), tmp_path, repo=REPO), 240)
    assert (result.status, result.detail) == (FAIL, detail)


# 6. The transformers sweep


UUID = "GPU-0a1e0000-6f1c-3d2b-9a6f-1234567890ab"


def record(point, status="ok", method="nvml-counter", duration_s=8.25, watts=412.4, gpus=(UUID,)):
    rec = {
        "point": point,
        "status": status,
        "duration_s": duration_s,
        "energy": {"method": method, "avg_power_w": watts},
        "hardware": {"gpus": [{"uuid": u} for u in gpus]},
    }
    return rec if status == "ok" else rec | {"energy": None, "duration_s": None, "error": "CUDA out of memory"}


POINTS = [f"{model}/transformers/batch{b}/isl256/osl64" for model in ("llama-3.1-8b", "olmoe-1b-7b") for b in (1, 8)]


def sweep_writing(records, returncode=0):
    """`tokencost run` as a fake: writes `records` into the --out directory it was given."""

    def run(argv, env):
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True)
        (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        return Done(returncode, "", "done\n")

    return run


def test_the_sweep_passes_with_every_point_ok_on_the_counter_and_reports_each_point(tmp_path):
    runner = FakeRunner({"run": sweep_writing([record(p, duration_s=5.0 + i) for i, p in enumerate(POINTS)])})
    result = gpu_smoke.check_sweep(context(runner, tmp_path), 360)
    assert (result.status, result.detail) == (
        PASS,
        f"4 points ok with nvml-counter energy on {UUID}: llama-3.1-8b/transformers/batch1/isl256/osl64 "
        "5.0 s at 412 W, llama-3.1-8b/transformers/batch8/isl256/osl64 6.0 s at 412 W, "
        "olmoe-1b-7b/transformers/batch1/isl256/osl64 7.0 s at 412 W, "
        "olmoe-1b-7b/transformers/batch8/isl256/osl64 8.0 s at 412 W",
    )
    [(argv, env, _)] = runner.calls
    assert argv[1:5] == ["-m", "tokencost.cli.main", "run", "--suite"]
    assert argv[5] == REPO / "bench" / "suites" / "gpu-smoke.toml"
    assert env["HF_HUB_OFFLINE"] == "1" and env["PYTHONPATH"].split(":")[0] == str(REPO)


def test_the_sweep_fails_on_a_failed_point_a_sampled_point_a_cpu_point_and_a_missing_point(tmp_path):
    records = [
        record(POINTS[0], status="failed"),
        record(POINTS[1], method="nvml-sampled"),
        record(POINTS[2], method="estimated", gpus=()),
    ]
    runner = FakeRunner({"run": sweep_writing(records, returncode=1)})
    result = gpu_smoke.check_sweep(context(runner, tmp_path), 360)
    assert (result.status, result.detail) == (
        FAIL,
        "3 of 4 points recorded (exit 1: done); llama-3.1-8b/transformers/batch1/isl256/osl64 failed: CUDA "
        "out of memory; llama-3.1-8b/transformers/batch8/isl256/osl64 measured by nvml-sampled; "
        "olmoe-1b-7b/transformers/batch1/isl256/osl64 measured by estimated; "
        "olmoe-1b-7b/transformers/batch1/isl256/osl64: the run's hardware lists no GPU",
    )


def test_without_pydantic_or_wheels_the_sweep_is_a_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_smoke, "find_spec", lambda name: None)
    runner = FakeRunner({})
    result = gpu_smoke.run_one(
        next(c for c in CHECKS if c.name == "transformers-sweep"), context(runner, tmp_path, repo=tmp_path), 360
    )
    assert (result.status, result.detail) == (
        SKIP,
        "pydantic is not installed and .whl/ holds no wheels to install it from "
        "(see `python -m bench.gpu_smoke --help`)",
    )
    assert runner.calls == []


def test_without_pydantic_the_wheels_in_whl_are_installed_for_the_sweep(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_smoke, "find_spec", lambda name: None)
    (tmp_path / ".whl").mkdir()
    for name in ("pydantic-2.12.5-py3-none-any.whl", "pydantic_core-2.41.5-cp312-cp312-manylinux.whl"):
        (tmp_path / ".whl" / name).write_text("")
    runner = FakeRunner({"pip": Done(0), "run": sweep_writing([record(p) for p in POINTS])})
    result = gpu_smoke.check_sweep(context(runner, tmp_path / "work", repo=tmp_path), 360)
    assert result.status == PASS
    (pip, _, _), (_, env, _) = runner.calls
    site = tmp_path / "work" / "site"
    assert pip[1:] == [
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--target",
        site,
        *sorted((tmp_path / ".whl").glob("*.whl")),
    ]
    assert env["PYTHONPATH"].split(":")[:2] == [str(REPO), str(site)]


def test_a_failed_wheel_install_is_a_skip_that_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_smoke, "find_spec", lambda name: None)
    (tmp_path / ".whl").mkdir()
    (tmp_path / ".whl" / "pydantic-2.12.5-py3-none-any.whl").write_text("")
    runner = FakeRunner({"pip": Done(1, "", "ERROR: pydantic_core-2.41.5 is not a supported wheel on this platform.")})
    result = gpu_smoke.run_one(
        next(c for c in CHECKS if c.name == "transformers-sweep"), context(runner, tmp_path, repo=tmp_path), 360
    )
    assert (result.status, result.detail) == (
        SKIP,
        "pydantic is not installed and installing .whl/ failed: ERROR: pydantic_core-2.41.5 is not a supported "
        "wheel on this platform.",
    )


# Orchestration: every check runs, each gets a line, any FAIL makes exit 1


PERIOD_OK = {"gpu": UUID, "idle": {"period_s": 0.1, "changes": 20}, "load": {"period_s": 0.02, "changes": 100}}
POWER_OK = {
    "method": "nvml-counter",
    "seconds": 8.0,
    "counter_w": 600.0,
    "sampled_w": 590.0,
    "samples": 80,
    "flags": [],
}
FORK_OK = {"forks": 50, "hangs": 0, "error_count": 0, "errors": [], "sampler_interval_s": 0.002, "samples": 4000}


def all_good() -> dict:
    one_gpu = json_done([UUID])
    return {
        PERIOD_PROBE: json_done(PERIOD_OK),
        POWER_PROBE: json_done(POWER_OK),
        HARNESS_GPUS: one_gpu,
        TORCH_GPUS: one_gpu,
        "doctor": Done(0, DOCTOR_OK),
        FORK_PROBE: json_done(FORK_OK),
        "pytest": Done(0, "12 passed, 140 deselected in 20.1s\n"),
        "run": by_suite(sweep_writing([record(p) for p in POINTS]), sweep_writing(vllm_records())),
    }


def by_suite(transformers, vllm):
    """`tokencost run` as a fake: the transformers sweep's records, or the vLLM smoke suite's."""
    return lambda argv, env: (vllm if "vllm-smoke" in str(argv[argv.index("--suite") + 1]) else transformers)(argv, env)


def vllm_records(**effective) -> list[dict]:
    return [
        record(f"{model}/vllm/batch{b}/isl128/osl32")
        | {
            "engine": {"effective": {"num_gpu_blocks": 9000, "block_size": 16, "model_runner": "v2"} | effective},
            "prefix_cache": {"queries": 512, "hits": 0},
            "output_tok_s": 100.0 * b,
        }
        for model in ("tiny-dense", "tiny-moe")
        for b in (1, 4)
    ]


class Lines:
    def __init__(self):
        self.lines = []

    def __call__(self, line, flush=False):
        self.lines.append(line)


def test_all_good_prints_a_pass_line_per_check_writes_the_summary_and_exits_0(tmp_path):
    echo = Lines()
    assert gpu_smoke.main(["--out", str(tmp_path / "out")], runner=FakeRunner(all_good()), echo=echo) == 0
    assert [line.split()[:2] for line in echo.lines[:-1]] == [
        [PASS, "update-period"],
        [PASS, "counter-vs-sampled"],
        [PASS, "gpu-mapping"],
        [PASS, "doctor"],
        [PASS, "fork-safety"],
        [PASS, "pytest-gpu"],
        [PASS, "transformers-sweep"],
        [PASS, "vllm-offline"],
        [PASS, "vllm-serve"],
    ]
    assert echo.lines[0] == "PASS  update-period       energy counter changes every 100.0 ms idle, 20.0 ms under load"
    assert echo.lines[-1] == (f"PASS: 9 passed, 0 failed, 0 skipped; summary in {tmp_path / 'out' / 'gpu_smoke.json'}")
    summary = json.loads((tmp_path / "out" / "gpu_smoke.json").read_text())
    assert summary["status"] == PASS
    assert summary["checks"][1]["values"]["ratio"] == round(600 / 590, 4)


def test_a_failing_and_a_hanging_check_still_let_the_rest_run_and_exit_1(tmp_path):
    answers = all_good() | {
        PERIOD_PROBE: Done(1, "", "Traceback ...\npynvml.NVMLError_NotSupported: Not Supported"),
        FORK_PROBE: Done(None, "", ""),
    }
    echo = Lines()
    assert gpu_smoke.main(["--out", str(tmp_path)], runner=FakeRunner(answers), echo=echo) == 1
    assert echo.lines[:-1] == [
        "FAIL  update-period       exit 1: pynvml.NVMLError_NotSupported: Not Supported",
        *echo.lines[1:4],
        "FAIL  fork-safety         timed out after 150 s",
        *echo.lines[5:9],
    ]
    assert [line.split()[0] for line in echo.lines[1:4] + echo.lines[5:9]] == [PASS] * 7
    assert echo.lines[-1].startswith("FAIL: 7 passed, 2 failed, 0 skipped; summary in ")
    assert json.loads((tmp_path / "gpu_smoke.json").read_text())["status"] == FAIL


def test_quick_leaves_out_the_gpu_tests_and_the_sweep(tmp_path):
    echo = Lines()
    runner = FakeRunner(all_good())
    assert gpu_smoke.main(["--out", str(tmp_path), "--quick"], runner=runner, echo=echo) == 0
    assert echo.lines[5:9] == [
        "SKIP  pytest-gpu          left out by --quick",
        "SKIP  transformers-sweep  left out by --quick",
        "SKIP  vllm-offline        left out by --quick",
        "SKIP  vllm-serve          left out by --quick",
    ]
    assert not [argv for argv, _, _ in runner.calls if "pytest" in argv or "run" in argv]


def test_a_crashing_check_is_a_fail_and_the_next_one_runs(tmp_path):
    def broken(ctx, timeout_s):
        raise KeyError("idle")

    checks = [Check("broken", broken, 60), Check("fine", lambda ctx, t: CheckResult("fine", PASS, "ok"), 60)]
    echo = Lines()
    results = run_checks(checks, context(FakeRunner({}), tmp_path), echo=echo)
    assert echo.lines == [
        "FAIL  broken              the check crashed: KeyError: 'idle'",
        "PASS  fine                ok",
    ]
    assert gpu_smoke.overall(results) == FAIL


def test_each_check_gets_what_is_left_of_the_budget_and_none_is_a_skip(tmp_path):
    now = [0.0]
    given = []

    def takes_100_s(ctx, timeout_s):
        given.append(timeout_s)
        now[0] += 100
        return CheckResult("slow", PASS, "ok")

    checks = [Check(f"c{i}", takes_100_s, 120) for i in range(3)]
    results = run_checks(checks, context(FakeRunner({}), tmp_path), budget_s=150, echo=Lines(), clock=lambda: now[0])
    assert given == [120, 50]
    assert (results[2].status, results[2].detail) == (SKIP, "the 150 s budget is spent")
    assert [r.seconds for r in results] == [100.0, 100.0, 0.0]


# Child processes for real: a timeout kills the child and what it forked


def test_run_command_returns_the_exit_status_and_output():
    done = run_command(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], {}, 30
    )
    assert done == Done(3, "out\n", "err\n")


def test_run_command_kills_the_whole_process_group_at_the_timeout(tmp_path):
    pid_file = tmp_path / "grandchild"
    code = (
        "import os, subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); print('started', flush=True); time.sleep(60)"
    )
    start = time.monotonic()
    done = run_command([sys.executable, "-c", code], {}, 2)
    assert done.timed_out and done.stdout == "started\n" and time.monotonic() - start < 10
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # reaped by init shortly after the kill
        try:
            state = Path(f"/proc/{grandchild}/stat").read_text().split()[2]
        except FileNotFoundError:
            break
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the grandchild outlived the timeout")


def test_the_module_names_the_device_command_and_the_wheels():
    doc = gpu_smoke.__doc__
    assert "PYTHONUNBUFFERED=1 python3 -m bench.gpu_smoke --out $OUT" in doc
    assert "echo /.whl/ >> .git/info/exclude" in doc and "-d .whl pydantic" in doc


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--out", "{file}/sub"],
            "--out: {file}/sub cannot hold gpu_smoke.json (Not a directory); give a writable folder",
        ),
        (["--budget-s", "nan"], "--budget-s: nan is not a number of seconds between 0 and a day"),
        (["--budget-s", "1e15"], "--budget-s: 1e+15 is not a number of seconds between 0 and a day"),
    ],
)
def test_bad_options_are_one_line_and_exit_2_before_any_check(tmp_path, capsys, args, message):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    ran = []
    with pytest.raises(SystemExit) as stopped:
        gpu_smoke.main([a.format(file=a_file) for a in args], runner=lambda *a: ran.append(a))
    assert stopped.value.code == 2 and not ran
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message.format(file=a_file))
