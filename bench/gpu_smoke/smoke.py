"""GPU smoke test: what the CPU tests cannot show, checked in minutes on a freshly started H100/H200 machine.

    python -m bench.gpu_smoke [--out DIR] [--quick] [--budget-s 450] [--only CHECK,CHECK]

It needs torch with CUDA, transformers and nvidia-ml-py, and vLLM for checks 8 and 9 (SKIP without it); not
the network. Each check prints
one PASS, FAIL or SKIP line, and DIR/gpu_smoke.json (rewritten after every check) holds each check's
values. The exit status is 0 only when no check FAILed.

1. update-period: how often NVML's energy counter changes, polled every 1 ms for 2 s, idle and under a
   bf16 matmul load (median interval between changes); PASS between 5 and 200 ms.
2. counter-vs-sampled: under load, the counter's average watts against the mean of the power sampler's
   readings over the same window; PASS within 5 %.
3. gpu-mapping: the GPUs bench.energy.gpus resolves for each CUDA_VISIBLE_DEVICES case (unset, "0", the
   GPU's UUID, a UUID prefix, PCI_BUS_ID order, and "1" and "1,0" with two GPUs or more) against torch's
   own view with the same environment, each in a fresh process; PASS when they agree exactly.
4. doctor: `tokencost doctor --require-gpu` exits 0 (the doctor needs no pydantic).
5. pytest-gpu: the gpu-marked tests pass against the real driver (not with --quick).
6. transformers-sweep: `tokencost run --suite bench/suites/gpu-smoke.toml`; PASS when every point is ok,
   measured with the NVML counter, on a GPU; prints each point's duration and power (not with --quick).
7. fork-safety: 50 forked children nvmlInit and read the counter while a PowerSampler polls every 2 ms,
   as vLLM forks its engine beside the harness's sampler; PASS with no hang (10 s each) and no error.
8. vllm-offline: `tokencost run --suite bench/suites/vllm-smoke.toml`: tiny-dense and tiny-moe through vLLM's
   offline engine at batch 1 and 4, compile and CUDA graphs on (not with --quick). PASS when every point is ok
   with nvml-counter energy and its record holds engine.effective's KV blocks, block size and model runner, and
   the prefix cache's query and hit counters.
9. vllm-serve: the same through vLLM's server (`--mode serve`, concurrency 1 and 4); the same PASS.

Each check does its GPU work in child processes, which are killed, with their own children, at the check's
timeout: a hanging or crashing check never stops the others, and every child starts without CUDA, as the
harness does. The GPU-side probes (bench.gpu_smoke.probes) build the project's own meter and sampler in
the child. Checks run in the order 1, 2, 3, 4, 7, 5, 6, 8, 9 (longest last) within --budget-s; a check with no
time left is a SKIP.

On the lent H200 (the device tool: the repo travels, and what the command writes under $OUT comes back):

    PYTHONUNBUFFERED=1 python3 -m bench.gpu_smoke --out $OUT

with timeout_s 540. `tokencost run` (check 6) needs pydantic, which that machine lacks: when pydantic
cannot be imported, wheels in .whl/ at the repo root are installed into a temporary folder on the
children's PYTHONPATH; without them check 6 is a SKIP. Fetch them here, once, in the repo root, and name
`.whl` in the run's carry:

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \\
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl pydantic
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.util import find_spec
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "bench" / "suites" / "gpu-smoke.toml"
VLLM_SUITE = REPO / "bench" / "suites" / "vllm-smoke.toml"
SUMMARY_FILE = "gpu_smoke.json"
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
PERIOD_RANGE_S = (0.005, 0.2)  # counters tick every ~20-100 ms; outside this the counter or the polling is off
POWER_TOLERANCE = 0.05
GPU_MARK = "mark.gpu"  # test files holding gpu tests (pytest -m gpu)
CUDA_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
CHILD_TIMEOUT_S = 90.0  # one mapping view: a fresh interpreter importing torch
MIN_CHECK_S = 20.0  # a check given less than this would only time out

# Child programs, each printing one JSON line: the probes of bench.gpu_smoke.probes (on the project's own
# energy code), and torch's own view of the GPUs to hold the harness's against.
PROBES = "bench.gpu_smoke.probes"
HARNESS_GPUS = ("-m", PROBES, "harness-gpus")
PERIOD_PROBE = ("-m", PROBES, "period")
POWER_PROBE = ("-m", PROBES, "power")
FORK_PROBE = ("-m", PROBES, "fork")
TORCH_GPUS = (
    "-c",
    "import json, torch; print(json.dumps(['GPU-' + str(torch.cuda.get_device_properties(i).uuid) "
    "for i in range(torch.cuda.device_count())]))",
)


@dataclass
class CheckResult:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    values: dict = field(default_factory=dict)
    seconds: float | None = None

    def line(self) -> str:
        return f"{self.status}  {self.name:<19} {self.detail}"


class CheckFailed(Exception):
    """A check could not get its readings; the message is its FAIL line."""


class CheckSkipped(Exception):
    """A check cannot run here; the message says why."""


# Pure logic: readings in, values and a verdict out


def change_times(read: Callable, seconds: float, poll_s: float = 0.001, clock=time) -> list[float]:
    """The times at which `read()` returned a new value, polling every `poll_s` for `seconds`."""
    end = clock.perf_counter() + seconds
    last, times = read(), []
    while clock.perf_counter() < end:
        clock.sleep(poll_s)
        value = read()
        if value != last:
            times.append(clock.perf_counter())
            last = value
    return times


def update_period(read: Callable, seconds: float = 2.0, poll_s: float = 0.001, clock=time) -> dict:
    """The median interval between changes of a polled value (None with fewer than two changes)."""
    times = change_times(read, seconds, poll_s, clock)
    gaps = [b - a for a, b in pairwise(times)]
    return {"period_s": statistics.median(gaps) if gaps else None, "changes": len(times)}


def judge_update_period(idle: dict, load: dict) -> CheckResult:
    low, high = PERIOD_RANGE_S
    phases = {"idle": idle["period_s"], "under load": load["period_s"]}
    values = {f"{phase.replace(' ', '_')}_ms": None if s is None else round(s * 1000, 1) for phase, s in phases.items()}
    values |= {"idle_changes": idle["changes"], "load_changes": load["changes"]}
    said = [f"{'no change seen' if s is None else f'{s * 1000:.1f} ms'} {phase}" for phase, s in phases.items()]
    bad = [phase for phase, s in phases.items() if s is None or not low <= s <= high]
    detail = "energy counter changes every " + ", ".join(said)
    if bad:
        return CheckResult(
            "update-period", FAIL, f"{detail}; outside {low * 1000:g}-{high * 1000:g} ms {' and '.join(bad)}", values
        )
    return CheckResult("update-period", PASS, detail, values)


def counter_vs_sampled(meter, wait: Callable[[float], None], window_s: float) -> dict:
    """The meter's counter and its sampler's mean power over one window (the load already running)."""
    start = meter.snapshot()
    wait(window_s)
    end = meter.snapshot()
    reading = meter.reading(start, end)
    return {
        "method": reading.method,
        "seconds": reading.duration_s,
        "counter_w": reading.avg_power_w,
        "sampled_w": reading.sampled_avg_power_w,
        "samples": len(meter.samples(start.t, end.t)),
        "flags": reading.flags,
    }


def judge_counter_vs_sampled(found: dict, tolerance: float = POWER_TOLERANCE) -> CheckResult:
    name, counter_w, sampled_w = "counter-vs-sampled", found["counter_w"], found["sampled_w"]
    if found["method"] != "nvml-counter" or counter_w is None:
        return CheckResult(name, FAIL, f"no counter reading: method {found['method']}, flags {found['flags']}", found)
    if sampled_w is None:
        return CheckResult(name, FAIL, "the sampler read no power in the window", found)
    counter_w, sampled_w = round(counter_w, 1), round(sampled_w, 1)  # 0.1 W is finer than any sensor
    ratio = counter_w / sampled_w
    values = found | {"counter_w": counter_w, "sampled_w": sampled_w, "ratio": round(ratio, 4)}
    detail = (
        f"under load the counter gives {counter_w:.1f} W and {found['samples']} samples average "
        f"{sampled_w:.1f} W ({ratio - 1:+.1%})"
    )
    if round(abs(ratio - 1), 4) > tolerance:  # rounded: 315 W against 300 W is 5 %, not 5.000000000000004 %
        return CheckResult(name, FAIL, f"{detail}: more than {tolerance:.0%} apart", values)
    return CheckResult(name, PASS, detail, values)


def mapping_cases(uuids: list[str]) -> dict[str, dict]:
    """CUDA_VISIBLE_DEVICES / CUDA_DEVICE_ORDER cases for a machine whose GPUs are `uuids` in CUDA order."""
    cases = {
        "unset": {},
        "0": {"CUDA_VISIBLE_DEVICES": "0"},
        "uuid": {"CUDA_VISIBLE_DEVICES": uuids[0]},
        "uuid prefix": {"CUDA_VISIBLE_DEVICES": uuids[0][:12]},
        "PCI_BUS_ID order": {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
    }
    if len(uuids) > 1:
        cases |= {"1": {"CUDA_VISIBLE_DEVICES": "1"}, "1,0": {"CUDA_VISIBLE_DEVICES": "1,0"}}
    return cases


def compare_mapping(views: dict[str, dict]) -> CheckResult:
    """PASS when, in every case, the harness's GPU list equals torch's ({"env", "harness", "torch"} per case)."""
    disagree = [
        f"{case}: harness {v['harness']} but torch {v['torch']}"
        for case, v in views.items()
        if not isinstance(v["harness"], list) or v["harness"] != v["torch"]
    ]
    if disagree:
        return CheckResult("gpu-mapping", FAIL, "; ".join(disagree), {"cases": views})
    return CheckResult(
        "gpu-mapping",
        PASS,
        f"bench.energy.gpus and torch agree in all {len(views)} cases: {', '.join(views)}",
        {"cases": views},
    )


def judge_fork(found: dict) -> CheckResult:
    name, forks, hangs, errors = "fork-safety", found["forks"], found["hangs"], found["error_count"]
    detail = (
        f"{forks} forked children read the counter while the sampler polled every "
        f"{found['sampler_interval_s'] * 1000:g} ms ({found['samples']} samples): {hangs} hung, {errors} failed"
    )
    if hangs or errors:
        return CheckResult(name, FAIL, detail + (f" ({'; '.join(found['errors'])})" if errors else ""), found)
    return CheckResult(name, PASS, detail, found)


def judge_doctor(done: "Done") -> CheckResult:
    lines = done.stdout.splitlines()
    values = {"returncode": done.returncode, "output": done.stdout}
    if done.timed_out:
        return CheckResult("doctor", FAIL, "timed out", values)
    method = next((line.split(None, 2)[-1] for line in lines if line.startswith("energy method")), "")
    if done.returncode == 0:
        return CheckResult("doctor", PASS, f"every GPU-run requirement is met; {method}", values)
    missing = [line.removeprefix("MISSING: ") for line in lines if line.startswith("MISSING: ")]
    return CheckResult(
        "doctor", FAIL, "; ".join(missing) or f"exit {done.returncode}: {last_line(done.stderr)}", values
    )


def judge_pytest(done: "Done") -> CheckResult:
    values = {"returncode": done.returncode, "output": done.stdout[-3000:]}
    summary = last_line(done.stdout)
    if done.timed_out:
        return CheckResult("pytest-gpu", FAIL, f"timed out; last line: {summary}", values)
    if done.returncode == 0 and " passed" in summary:
        return CheckResult("pytest-gpu", PASS, summary, values)
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    why = "; ".join(failed[:5]) or summary or last_line(done.stderr)
    return CheckResult("pytest-gpu", FAIL, why if done.returncode else f"no gpu test passed: {why}", values)


def judge_sweep(records: list[dict], expected_points: int, done: "Done") -> CheckResult:
    """PASS when every expected point is ok, measured by the NVML counter, on a GPU the run's hardware lists."""
    points = [
        {
            "point": r["point"],
            "status": r["status"],
            "method": (r.get("energy") or {}).get("method"),
            "duration_s": r.get("duration_s"),
            "avg_power_w": (r.get("energy") or {}).get("avg_power_w"),
            "gpus": [g.get("uuid") for g in r["hardware"].get("gpus", [])],
            "error": r.get("error"),
        }
        for r in records
    ]
    values, problems = _sweep_outcome(points, len(records), expected_points, done)
    for p in points:
        if p["status"] != "ok":
            problems.append(f"{p['point']} {p['status']}: {p['error']}")
        elif p["method"] != "nvml-counter":
            problems.append(f"{p['point']} measured by {p['method']}")
        if not p["gpus"]:
            problems.append(f"{p['point']}: the run's hardware lists no GPU")
    if problems:
        return CheckResult("transformers-sweep", FAIL, "; ".join(problems), values)
    timings = ", ".join(f"{p['point']} {p['duration_s']:.1f} s at {p['avg_power_w']:.0f} W" for p in points)
    return CheckResult(
        "transformers-sweep",
        PASS,
        f"{len(points)} points ok with nvml-counter energy on {points[0]['gpus'][0]}: {timings}",
        values,
    )


def _sweep_outcome(points: list[dict], recorded: int, expected_points: int, done: "Done") -> tuple[dict, list[str]]:
    """What a smoke sweep's check reports (its points and the command's exit and output tails), and the problems
    every sweep check shares: a timeout, or fewer points recorded than asked for."""
    values = {
        "returncode": done.returncode,
        "points": points,
        "stdout": done.stdout[-2000:],
        "stderr": done.stderr[-2000:],
    }
    problems = ["timed out"] if done.timed_out else []
    if recorded != expected_points:
        problems.append(
            f"{recorded} of {expected_points} points recorded (exit {done.returncode}: {last_line(done.stderr)})"
        )
    return values, problems


def judge_vllm(records: list[dict], expected_points: int, done: "Done", mode: str) -> CheckResult:
    """PASS when every expected vLLM point is ok with nvml-counter energy, and says what vLLM settled on: its KV
    cache (engine.effective num_gpu_blocks and block_size), the model runner that ran, and the prefix cache's
    counters."""
    name = f"vllm-{mode}"
    points = []
    for r in records:
        effective = (r.get("engine") or {}).get("effective") or {}
        cache = r.get("prefix_cache") or {}
        points.append(
            {
                "point": r["point"],
                "status": r["status"],
                "method": (r.get("energy") or {}).get("method"),
                "num_gpu_blocks": effective.get("num_gpu_blocks"),
                "block_size": effective.get("block_size"),
                "model_runner": effective.get("model_runner"),
                "async_scheduling": effective.get("async_scheduling"),
                "prefix_cache_queries": cache.get("queries"),
                "prefix_cache_hits": cache.get("hits"),
                "output_tok_s": r.get("output_tok_s"),
                "avg_power_w": (r.get("energy") or {}).get("avg_power_w"),
                "error": r.get("error"),
            }
        )
    values, problems = _sweep_outcome(points, len(records), expected_points, done)
    for p in points:
        if p["status"] != "ok":
            problems.append(f"{p['point']} {p['status']}: {p['error']}")
            continue
        if p["method"] != "nvml-counter":
            problems.append(f"{p['point']} measured by {p['method']}")
        missing = [
            label
            for label, value in (
                ("engine.effective.num_gpu_blocks", p["num_gpu_blocks"]),
                ("engine.effective.block_size", p["block_size"]),
                ("engine.effective.model_runner", p["model_runner"]),
                ("prefix_cache.queries", p["prefix_cache_queries"]),
                ("prefix_cache.hits", p["prefix_cache_hits"]),
            )
            if value is None
        ]
        if missing:
            problems.append(f"{p['point']} has no {', '.join(missing)}")
    if problems:
        return CheckResult(name, FAIL, "; ".join(problems), values)
    first = points[0]
    runners = sorted({str(p["model_runner"]) for p in points})
    rates = ", ".join(f"{p['point']} {p['output_tok_s']:.0f} tok/s at {p['avg_power_w']:.0f} W" for p in points)
    return CheckResult(
        name,
        PASS,
        f"{len(points)} points ok with nvml-counter energy; model runner {'/'.join(runners)}, KV cache "
        f"{first['num_gpu_blocks']} blocks of {first['block_size']} tokens: {rates}",
        values,
    )


def last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


# Child processes


@dataclass(frozen=True)
class Done:
    """A finished child process; returncode None when it was killed at its timeout."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_command(argv: list, env: dict, timeout_s: float) -> Done:
    """Run argv from the repo root in a process group of its own; at the timeout, kill the whole group
    (children it forked would otherwise hold the GPU, or the pipes)."""
    with subprocess.Popen(
        [str(a) for a in argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    ) as child:
        try:
            out, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            return Done(None, out, err)
    return Done(child.returncode, out, err)


@dataclass
class Context:
    run: Callable[[list, dict, float], Done]  # the command runner (run_command; a fake in tests)
    env: dict  # the children's environment
    work: Path  # scratch: the sweep's run directory, pydantic installed from .whl/
    repo: Path = REPO
    python: str = sys.executable


def child_env(base, extra_paths: Sequence[str] = ()) -> dict:
    """`base` with the repo (and extra_paths) importable and every download switched off."""
    path = [str(REPO), *extra_paths, *([base["PYTHONPATH"]] if base.get("PYTHONPATH") else [])]
    return dict(base) | {
        "PYTHONPATH": os.pathsep.join(path),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
    }


def child_json(ctx: Context, program: tuple, timeout_s: float, env: dict | None = None) -> Any:
    """What a `python *program` child printed last, as JSON; CheckFailed when it failed or timed out."""
    done = ctx.run([ctx.python, *program], ctx.env if env is None else env, timeout_s)
    if done.timed_out:
        raise CheckFailed(f"timed out after {timeout_s:.0f} s")
    if done.returncode != 0:
        raise CheckFailed(f"exit {done.returncode}: {last_line(done.stderr)}")
    try:
        return json.loads(last_line(done.stdout))
    except json.JSONDecodeError:
        raise CheckFailed(f"no JSON answer: {last_line(done.stdout)!r}") from None


def pydantic_paths(ctx: Context) -> list[str]:
    """sys.path entries the children need for pydantic: none when it is installed, else .whl/ installed."""
    if find_spec("pydantic") is not None:
        return []
    wheels = sorted((ctx.repo / ".whl").glob("*.whl"))
    if not wheels:
        raise CheckSkipped(
            "pydantic is not installed and .whl/ holds no wheels to install it from "
            "(see `python -m bench.gpu_smoke --help`)"
        )
    target = ctx.work / "site"
    done = ctx.run(
        [
            ctx.python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--target",
            target,
            *wheels,
        ],
        ctx.env,
        180,
    )
    if done.returncode != 0:
        raise CheckSkipped(f"pydantic is not installed and installing .whl/ failed: {last_line(done.stderr)}")
    return [str(target)]


# The checks: each runs its GPU work in children and judges what they print


def check_update_period(ctx: Context, timeout_s: float) -> CheckResult:
    found = child_json(ctx, PERIOD_PROBE, timeout_s)
    return judge_update_period(found["idle"], found["load"])


def check_counter_vs_sampled(ctx: Context, timeout_s: float) -> CheckResult:
    return judge_counter_vs_sampled(child_json(ctx, POWER_PROBE, timeout_s))


def check_mapping(ctx: Context, timeout_s: float) -> CheckResult:
    deadline = time.monotonic() + timeout_s
    base = {k: v for k, v in ctx.env.items() if k not in CUDA_VARIABLES}

    def view(program: tuple, env: dict):
        left = deadline - time.monotonic()
        if left < 1:
            return "error: the check's time ran out"
        try:
            return child_json(ctx, program, min(left, CHILD_TIMEOUT_S), base | env)
        except CheckFailed as e:
            return f"error: {e}"

    uuids = view(TORCH_GPUS, {})
    if not isinstance(uuids, list) or not uuids:
        raise CheckFailed(f"torch sees no GPU: {uuids}")
    return compare_mapping(
        {
            case: {"env": env, "harness": view(HARNESS_GPUS, env), "torch": view(TORCH_GPUS, env)}
            for case, env in mapping_cases(uuids).items()
        }
    )


def check_doctor(ctx: Context, timeout_s: float) -> CheckResult:
    return judge_doctor(
        ctx.run([ctx.python, "-m", "tokencost.cli.main", "doctor", "--require-gpu"], ctx.env, timeout_s)
    )


def check_fork(ctx: Context, timeout_s: float) -> CheckResult:
    return judge_fork(child_json(ctx, FORK_PROBE, timeout_s))


def gpu_test_files(repo: Path = REPO) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in (repo / "tests").rglob("test_*.py") if GPU_MARK in p.read_text())


def check_pytest_gpu(ctx: Context, timeout_s: float) -> CheckResult:
    files = gpu_test_files(ctx.repo)
    if not files:
        raise CheckSkipped("no test file holds gpu-marked tests")
    return judge_pytest(
        ctx.run([ctx.python, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", *files], ctx.env, timeout_s)
    )


def check_sweep(ctx: Context, timeout_s: float, suite: Path = SUITE) -> CheckResult:
    env = child_env(ctx.env, pydantic_paths(ctx))
    run_dir = ctx.work / "sweep"
    done = ctx.run([ctx.python, "-m", "tokencost.cli.main", "run", "--suite", suite, "--out", run_dir], env, timeout_s)
    records_file = run_dir / "records.jsonl"
    records = [json.loads(line) for line in records_file.read_text().splitlines()] if records_file.is_file() else []
    plan = tomllib.loads(suite.read_text())
    return judge_sweep(records, len(plan["models"]) * len(plan["batch_sizes"]) * len(plan["engines"]), done)


def check_vllm(ctx: Context, timeout_s: float, mode: str, suite: Path = VLLM_SUITE) -> CheckResult:
    """tiny-dense and tiny-moe through vLLM, offline or served (`mode`), at batch or concurrency 1 and 4."""
    if find_spec("vllm") is None:
        raise CheckSkipped("vLLM cannot be imported here (install the cuda extra: pip install -e '.[cuda]')")
    env = child_env(ctx.env, pydantic_paths(ctx))
    run_dir = ctx.work / f"vllm-{mode}"
    argv = [ctx.python, "-m", "tokencost.cli.main", "run", "--suite", suite, "--out", run_dir]
    done = ctx.run(argv + (["--mode", "serve"] if mode == "serve" else []), env, timeout_s)
    records_file = run_dir / "records.jsonl"
    records = [json.loads(line) for line in records_file.read_text().splitlines()] if records_file.is_file() else []
    plan = tomllib.loads(suite.read_text())
    loads = plan["serve"]["concurrencies"] if mode == "serve" else plan["batch_sizes"]
    return judge_vllm(records, len(plan["models"]) * len(loads), done, mode)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context, float], CheckResult]
    timeout_s: float
    slow: bool = False  # left out by --quick


CHECKS = [
    Check("update-period", check_update_period, 120),
    Check("counter-vs-sampled", check_counter_vs_sampled, 120),
    Check("gpu-mapping", check_mapping, 240),
    Check("doctor", check_doctor, 180),
    Check("fork-safety", check_fork, 150),
    Check("pytest-gpu", check_pytest_gpu, 240, slow=True),
    Check("transformers-sweep", check_sweep, 360, slow=True),
    Check("vllm-offline", lambda ctx, timeout_s: check_vllm(ctx, timeout_s, "offline"), 540, slow=True),
    Check("vllm-serve", lambda ctx, timeout_s: check_vllm(ctx, timeout_s, "serve"), 540, slow=True),
]


def run_one(check: Check, ctx: Context, timeout_s: float) -> CheckResult:
    try:
        return check.run(ctx, timeout_s)
    except CheckSkipped as e:
        return CheckResult(check.name, SKIP, str(e))
    except CheckFailed as e:
        return CheckResult(check.name, FAIL, str(e))
    except Exception as e:  # a broken check is a FAIL of its own, never the end of the others
        return CheckResult(check.name, FAIL, f"the check crashed: {type(e).__name__}: {e}")


def run_checks(
    checks: list[Check],
    ctx: Context,
    quick: bool = False,
    budget_s: float = 450.0,
    out: Path | None = None,
    echo=print,
    clock=time.monotonic,
) -> list[CheckResult]:
    """Every check in turn, each within its timeout and what is left of the budget; a line printed as each ends."""
    deadline, results = clock() + budget_s, []
    for check in checks:
        start = clock()
        if quick and check.slow:
            result = CheckResult(check.name, SKIP, "left out by --quick")
        elif deadline - start < MIN_CHECK_S:
            result = CheckResult(check.name, SKIP, f"the {budget_s:g} s budget is spent")
        else:
            result = run_one(check, ctx, min(check.timeout_s, deadline - start))
        result.seconds = round(clock() - start, 1)
        results.append(result)
        echo(result.line(), flush=True)
        if out is not None:
            write_summary(out, results)
    return results


def overall(results: list[CheckResult]) -> str:
    return FAIL if any(r.status == FAIL for r in results) else PASS


def write_summary(out: Path, results: list[CheckResult]) -> None:
    summary = {
        "status": overall(results),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "checks": [asdict(r) for r in results],
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))


def main(argv: list[str] | None = None, runner=run_command, echo=print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu_smoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="folder for gpu_smoke.json (default: a new temporary folder)")
    parser.add_argument("--quick", action="store_true", help="leave out the gpu tests and the transformers sweep")
    parser.add_argument("--budget-s", type=float, default=450.0, help="time for all checks together (default 450)")
    parser.add_argument(
        "--only", help="run only these checks, comma-separated (e.g. vllm-offline,vllm-serve); the others are left out"
    )
    args = parser.parse_args(argv)
    checks = CHECKS
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in {c.name for c in CHECKS}]
        if unknown or not names:
            parser.error(
                f"--only: {', '.join(unknown) or 'no check'} is not a check; name some of: "
                + ", ".join(c.name for c in CHECKS)
            )
        checks = [c for c in CHECKS if c.name in names]
    if not 0 < args.budget_s < 86400:  # NaN fails too
        parser.error(f"--budget-s: {args.budget_s:g} is not a number of seconds between 0 and a day")
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    try:  # before any check runs: a summary that cannot be written would lose them all
        out.mkdir(parents=True, exist_ok=True)
        (out / SUMMARY_FILE).touch()
    except OSError as e:
        parser.error(f"--out: {out} cannot hold {SUMMARY_FILE} ({e.strerror or e}); give a writable folder")
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-work-") as work:
        ctx = Context(runner, child_env(os.environ), Path(work))
        results = run_checks(checks, ctx, args.quick, args.budget_s, out, echo)
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
    echo(
        f"{overall(results)}: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped; "
        f"summary in {out / SUMMARY_FILE}",
        flush=True,
    )
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
