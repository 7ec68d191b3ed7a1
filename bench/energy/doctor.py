"""What this machine can measure, whether a GPU run can start here, and which energy method a run would use.

`diagnose` returns findings in the order a user checks a new machine. Each says
whether it is a requirement of a GPU run that is met (True), one that is not
(False), or information only (None); `tokencost doctor --require-gpu` exits 1
on any False. CUDA is never initialised here: what torch sees is asked of a
child process (the harness must stay CUDA-free so vLLM can fork its workers).
The host memory's bandwidth is measured (a second or so, numpy only): on a GPU
host too, where it is the CPU's memory, not the GPU's.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import console, memory_bandwidth
from bench.energy import gpus
from bench.energy.meters import NvmlMeter, make_meter, rapl_zones
from bench.energy.processes import NAMESPACE_NOTE, in_pid_namespace
from bench.errors import UserError

logger = logging.getLogger(__name__)
# The oldest driver each CUDA major version runs on (NVIDIA's CUDA toolkit release notes, table 3).
MIN_DRIVER = {13: 580, 12: 525}
TORCH_TIMEOUT_S = 120.0
TORCH_PROBE = (
    "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, "
    "'available': torch.cuda.is_available(), 'devices': torch.cuda.device_count()}))"
)
METHOD_REASONS = {
    "nvml-counter": "the engine's NVIDIA GPUs have the energy counter",
    "nvml-sampled": "an engine GPU lacks the energy counter: sampled power is integrated",
    "rapl": "no NVIDIA GPU; RAPL counters are readable",
    "estimated": "no NVIDIA GPU and no readable RAPL: CPU energy is estimated from utilisation",
}


@dataclass(frozen=True)
class Finding:
    item: str
    text: str
    required_ok: bool | None = None  # a GPU-run requirement met (True) or not (False); None: information


def probe_torch(env: Mapping[str, str] | None = None, timeout_s: float = TORCH_TIMEOUT_S) -> dict[str, Any]:
    """torch's version, its CUDA build and what it sees, from a child process; {"error": why} when it cannot say."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", TORCH_PROBE],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"importing torch took over {timeout_s:g} s"}
    if out.returncode != 0:
        if "No module named 'torch'" in out.stderr:
            return {"error": "not installed"}
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return {"error": last}
    try:
        probe: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return probe
    except (IndexError, json.JSONDecodeError):
        return {"error": f"no answer from torch (printed {out.stdout.strip()[-200:]!r})"}


def python_header() -> Path:
    """Python.h of the running interpreter, which Triton's C helpers include."""
    return Path(sysconfig.get_paths()["include"]) / "Python.h"


def diagnose(
    gpu_count: int = 1,
    env: Mapping[str, str] | None = None,
    torch_probe: Callable[[Mapping[str, str]], dict[str, Any]] | None = None,
    which: Callable[[str], str | None] | None = None,
    header: Path | None = None,
    bandwidth: Callable[[], memory_bandwidth.MemoryBandwidth] | None = None,
) -> list[Finding]:
    """Findings for an engine of `gpu_count` GPUs (tensor x pipeline x data parallel) under `env`.

    torch_probe, which, header and bandwidth stand in for the torch child process, shutil.which, Python.h and
    the host-memory probe (bench.memory_bandwidth.measure) in tests.
    """
    env = os.environ if env is None else env
    console.step(logger, "doctor: reading the NVIDIA driver and GPUs (NVML)")
    findings, pynvml = _bindings()
    driver = _driver(pynvml, findings) if pynvml else None
    console.step(logger, f"doctor: asking torch what it sees, in a child process (up to {TORCH_TIMEOUT_S:g} s)")
    probe = torch_probe or probe_torch
    seen = probe(env)
    compat = cuda_compat_dir(env, seen.get("cuda"))
    if compat is not None:  # as vLLM will load torch: the compatibility libraries first
        seen = probe(
            dict(env) | {"LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(compat), env.get("LD_LIBRARY_PATH")]))}
        )
    findings += _torch(seen, driver, compat)
    console.step(logger, "doctor: choosing the engine's GPUs and reading their energy counters and power")
    engine = _engine_gpus(gpu_count, env, findings) if pynvml else []
    meter = make_meter(engine)
    if isinstance(meter, NvmlMeter):
        findings += _energy_counter(meter) + _power(meter)
    console.step(logger, "doctor: looking for a C compiler, Python.h, the PID namespace and RAPL")
    findings += _build_tools(which or shutil.which, header or python_header())
    namespaced = in_pid_namespace()
    findings.append(Finding("PID namespace", f"yes: {NAMESPACE_NOTE}" if namespaced else "no (the host's)"))
    zones, why = rapl_zones()
    findings.append(Finding("RAPL (CPU energy)", f"{len(zones)} package zone(s) readable" if zones else why))
    console.step(logger, f"doctor: measuring the host memory's bandwidth (about {memory_bandwidth.BUDGET_S:g} s)")
    findings += _bandwidth((bandwidth or memory_bandwidth.measure)())
    findings.append(
        Finding("energy method", f"{meter.method} (boundary {meter.boundary}): {METHOD_REASONS[meter.method]}")
    )
    return findings


def _bandwidth(found: memory_bandwidth.MemoryBandwidth) -> list[Finding]:
    """The host memory's bandwidth, the spread of its repeats, and a warning when the machine looked busy."""
    lines = [Finding("memory bandwidth", found.summary()), Finding("bandwidth spread", found.spread())]
    busy = found.busy()
    return lines + ([Finding("bandwidth WARNING", busy)] if busy else [])


def _bindings() -> tuple[list[Finding], ModuleType | None]:
    try:
        pynvml = gpus.official_pynvml()
    except UserError as e:
        return [Finding("nvidia-ml-py", str(e), False)], None
    return [Finding("nvidia-ml-py", f"{metadata.version('nvidia-ml-py')} (official NVIDIA bindings)", True)], pynvml


def _driver(pynvml: ModuleType, findings: list[Finding]) -> str | None:
    """The driver version, with NVML's line added to findings; None without a driver."""
    try:
        pynvml.nvmlInit()
        driver = gpus.nvml_text(pynvml.nvmlSystemGetDriverVersion())
        nvml = gpus.nvml_text(pynvml.nvmlSystemGetNVMLVersion())
    except pynvml.NVMLError as e:
        findings.append(Finding("NVML", f"not available ({e}): no NVIDIA driver or GPU on this machine", False))
        return None
    findings.append(Finding("NVML", f"driver {driver}, NVML {nvml}", True))
    return driver


def cuda_compat_dir(env: Mapping[str, str], cuda: str | None) -> Path | None:
    """CUDA's forward-compatibility libraries, found as vLLM 0.32 finds them before it imports torch
    (vllm/env_override.py, `_maybe_set_cuda_compatibility_path`): only with VLLM_ENABLE_CUDA_COMPATIBILITY=1 (or
    true); then VLLM_CUDA_COMPATIBILITY_PATH, $CONDA_PREFIX/cuda-compat, or /usr/local/cuda-<torch's CUDA>/compat,
    the first that is a directory."""
    if env.get("VLLM_ENABLE_CUDA_COMPATIBILITY", "0").strip().lower() not in ("1", "true"):
        return None
    candidates = [
        env.get("VLLM_CUDA_COMPATIBILITY_PATH", ""),
        str(Path(env["CONDA_PREFIX"]) / "cuda-compat") if env.get("CONDA_PREFIX") else "",
        f"/usr/local/cuda-{cuda}/compat" if cuda else "",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def _torch(probe: dict[str, Any], driver: str | None, compat: Path | None = None) -> list[Finding]:
    """torch and the CUDA it was built for, whether it sees a GPU, and whether the driver is new enough (or, with
    CUDA's forward-compatibility libraries `compat`, whether torch sees the GPU through them)."""
    if "error" in probe:
        return [Finding("torch", f"cannot be used: {probe['error']}", False)]
    version, cuda = probe["torch"], probe["cuda"]
    if cuda is None:
        return [Finding("torch", f"{version} is a CPU build: no CUDA", False)]
    sees = f"CUDA available, {probe['devices']} device(s)" if probe["available"] else "CUDA NOT available to torch"
    found = [Finding("torch", f"{version} built for CUDA {cuda}; {sees}", bool(probe["available"]))]
    needed = MIN_DRIVER.get(int(cuda.split(".")[0]))
    if driver is None or needed is None:
        return found
    if int(driver.split(".")[0]) >= needed:
        found.append(Finding("driver for CUDA", f"driver {driver} runs CUDA {cuda} (needs >= {needed})", True))
    elif compat is not None:
        # NVIDIA supports forward compatibility on datacenter GPUs only; whether torch sees the GPU with the
        # libraries loaded (the torch line above) is the test.
        works = bool(probe["available"])
        found.append(
            Finding(
                "driver for CUDA",
                f"driver {driver} is older than CUDA {cuda} needs (>= {needed}); CUDA forward compatibility "
                f"(VLLM_ENABLE_CUDA_COMPATIBILITY, libraries in {compat}) "
                + (
                    "lets torch see the GPU"
                    if works
                    else "did not make CUDA available to torch: a datacenter GPU "
                    "and the cuda-compat package of that CUDA version are needed"
                ),
                works,
            )
        )
    else:
        found.append(
            Finding(
                "driver for CUDA",
                f"driver {driver} is too old for torch's CUDA {cuda}, which needs "
                f"driver >= {needed}: upgrade the driver, or install torch and vLLM built for an "
                "older CUDA (e.g. their +cu129 builds), or on a datacenter GPU set VLLM_ENABLE_CUDA_COMPATIBILITY=1 "
                f"with CUDA {cuda}'s cuda-compat package installed",
                False,
            )
        )
    return found


def _engine_gpus(gpu_count: int, env: Mapping[str, str], findings: list[Finding]) -> list[gpus.GpuDevice]:
    """The engine's GPUs (empty on error), with lines for every GPU, the engine/idle split and memory."""
    devices = gpus.all_gpus()
    findings.append(Finding("GPUs found", str(len(devices))))
    for info in gpus.describe(devices):
        findings.append(
            Finding(
                f"GPU {info['nvml_index']}",
                f"{info['name']} {info['uuid']} bus {info['pci_bus_id']}, power limit {info['power_limit_w']} W",
            )
        )
    if not devices:
        findings.append(Finding("engine GPUs", "none: NVML sees no GPU", False))
        return []
    try:
        # As a run resolves them: it numbers GPUs in PCI bus order unless told otherwise.
        chosen = gpus.engine_gpus(gpu_count, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"} | dict(env))
    except UserError as e:
        findings.append(Finding("engine GPUs", str(e), False))
        return []
    visible = len(chosen.engine) + len(chosen.idle)
    findings.append(
        Finding(
            "engine GPUs",
            f"{len(chosen.engine)} of {visible} visible "
            f"({', '.join(d.uuid for d in chosen.engine)}); idle: {len(chosen.idle)}",
            True,
        )
    )
    total = gpus.memory_bytes(chosen.engine)
    findings.append(Finding("GPU memory", f"{total // 2**20} MiB per engine GPU" if total else "not readable"))
    return chosen.engine


def _energy_counter(meter: NvmlMeter) -> list[Finding]:
    lacking = [d.uuid for d, ok in zip(meter.devices, meter.counter_supported) if not ok]
    if lacking:
        return [Finding("energy counter", f"NOT supported on {', '.join(lacking)}", False)]
    return [Finding("energy counter", f"supported on all {len(meter.devices)} engine GPU(s)", True)]


def _power(meter: NvmlMeter) -> list[Finding]:
    """One power sample per engine GPU: the figure energy would integrate, where it came from, and the fields."""
    meter.sampler.sample_once()
    found = [
        Finding(
            "power",
            f"{s.gpu}: power_w {s.power_w} W from {s.power_source} ({s.power_scope} scope); "
            f"instant {s.power_instant_w} W, average {s.power_average_w} W",
        )
        for s in meter.sampler.samples
    ]
    return found + [Finding(f"not readable: {what}", error) for what, error in meter.sampler.errors.items()]


def _build_tools(which: Callable[[str], str | None], header: Path) -> list[Finding]:
    """Triton compiles C against Python.h at run time, for vLLM's torch.compile and fused-MoE kernels."""
    compiler = next(((name, path) for name in ("cc", "gcc") if (path := which(name))), None)
    found = [
        Finding("C compiler", f"{compiler[0]}: {compiler[1]}", True)
        if compiler
        else Finding(
            "C compiler",
            "no cc or gcc on PATH: Triton compiles C at run time for vLLM's torch.compile "
            "and fused MoE (install build-essential)",
            False,
        )
    ]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found.append(
        Finding("Python.h", str(header), True)
        if header.is_file()
        else Finding(
            "Python.h", f"{header} is missing: Triton's C build includes it (install python{version}-dev)", False
        )
    )
    return found


def render(findings: list[Finding]) -> list[str]:
    """The findings as aligned `item  text` lines."""
    width = max(len(f.item) for f in findings)
    return [f"{f.item:<{width}}  {f.text}" for f in findings]


def missing(findings: list[Finding]) -> list[Finding]:
    """The GPU-run requirements that are not met."""
    return [f for f in findings if f.required_ok is False]
