"""The Ray cluster a run uses: connecting to it (Ray is an optional extra), and what its nodes offer."""

import os
import re
import signal
import socket
import subprocess
import sys
import types
from dataclasses import dataclass

from bench.errors import UserError
from bench.secrets import REDACTED, redact

ADDRESS_FIX = "give the head node's host:port (e.g. 10.0.0.1:6379, as `ray start --head` printed it) or auto"
# Ray's own resource for a GPU node's model (e.g. accelerator_type:H100), which Ray detects on GPU nodes.
CONNECT_TIMEOUT_S = 10.0
# Joining waits this long at most: Ray's own join keeps retrying an address where something that is not Ray
# listens (a dashboard's port, say), and does not answer a signal meanwhile.
JOIN_TIMEOUT_S = float(os.environ.get("TOKENCOST_RAY_JOIN_TIMEOUT_S", "60"))
# Joins the cluster and leaves it: run in a process of its own, which can be ended at the bound.
_JOIN_PROBE = "import sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR'); ray.shutdown()"
MAX_PORT = 65_535
ACCELERATOR_RESOURCE = "accelerator_type:{}"


def import_ray() -> types.ModuleType:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(
            "--ray-address",
            "needs Ray, which is not installed",
            "install tokencost-bench[ray] (pip install 'tokencost-bench[ray]')",
        ) from None
    return ray


def check_address(address: str) -> str:
    """A cluster address this machine joins as a Ray driver: host:port or auto. A Ray Client address
    (ray://) is refused: the run directory's writer must run on a node of the cluster, beside the driver."""
    if address.startswith("ray://"):
        raise UserError(
            "--ray-address",
            f"{redact(address)} is a Ray Client address, and the run directory must be on a node of the cluster",
            f"run tokencost on a node of the cluster; {ADDRESS_FIX}",
        )
    if "@" in address:  # a Ray address never carries a user or password; whatever stands before the "@" may be one
        raise UserError(
            "--ray-address", f"{_masked(address)!r} holds a user name or password, which Ray does not take", ADDRESS_FIX
        )
    if address == "auto":
        return address
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}", address):
        raise UserError("--ray-address", f"{redact(address)!r} is not a cluster address", ADDRESS_FIX)
    port = int(address.rpartition(":")[2])
    if not 1 <= port <= MAX_PORT:  # a socket would take a larger number modulo 65536: another port
        raise UserError("--ray-address", f"port {port} is not between 1 and {MAX_PORT}", ADDRESS_FIX)
    return address


def _masked(address: str) -> str:
    """The address with everything before its last "@" masked, with a scheme or without one."""
    return f"{REDACTED}@{address.rpartition('@')[2]}"


def connect(address: str):
    """Join the cluster as its driver (Ray's workers' output is forwarded here); the ray module."""
    ray = import_ray()
    check_address(address)
    if address != "auto":
        _check_reachable(address)  # Ray itself would keep retrying an address where nothing listens
        _check_joinable(address)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(address=address, log_to_driver=True, logging_level="ERROR", configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as e:
        message = redact(str(e)).strip().splitlines()
        raise UserError(
            "--ray-address",
            f"cannot join the Ray cluster at {redact(address)} ({message[0][:200] if message else type(e).__name__})",
            f"start it with `ray start --head` on the head node; {ADDRESS_FIX}",
        ) from None
    for sig, handler in handlers.items():  # Ray's own would end this process at once, before its tasks end theirs
        signal.signal(sig, handler)
    return ray


def _check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UserError(
            "--ray-address",
            f"nothing answers at {redact(address)} ({e.strerror or e})",
            f"start the cluster with `ray start --head` on the head node; {ADDRESS_FIX}",
        ) from None


def _check_joinable(address: str, timeout_s: float = JOIN_TIMEOUT_S) -> None:
    """A Ray cluster answers at `address` within `timeout_s`: tried from a child process, so that a join that
    never ends is ended at the bound, and Ctrl-C or SIGTERM reach this process while it waits."""
    fix = "give the head node's GCS address, host:port (e.g. 10.0.0.1:6379, as `ray start --head` printed it; not the dashboard's port), or auto"
    probe = subprocess.Popen(
        [sys.executable, "-c", _JOIN_PROBE, address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its Ray processes end with it, and a terminal's Ctrl-C is ours to pass on
    )
    try:
        _, err = probe.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise UserError(
            "--ray-address", f"{redact(address)} did not answer as a Ray cluster within {timeout_s:g} s", fix
        ) from None
    finally:
        if probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
            probe.wait()
    if probe.returncode != 0:
        last = redact(err).strip().splitlines()
        raise UserError(
            "--ray-address",
            f"cannot join the Ray cluster at {redact(address)} ({last[-1][:200] if last else 'no reason given'})",
            fix,
        )


@dataclass(frozen=True)
class Node:
    node_id: str
    ip: str
    hostname: str
    resources: dict

    def offers(self, demand: dict) -> bool:
        return all(self.resources.get(name, 0) >= amount for name, amount in demand.items() if amount)

    def summary(self) -> dict:
        return {
            "node_id": self.node_id,
            "ip": self.ip,
            "hostname": self.hostname,
            "gpus": int(self.resources.get("GPU", 0)),
            "accelerators": sorted(k.split(":", 1)[1] for k in self.resources if k.startswith("accelerator_type:")),
        }


def alive_nodes(ray) -> list[Node]:
    return [
        Node(
            n["NodeID"],
            n.get("NodeManagerAddress", ""),
            n.get("NodeManagerHostname", ""),
            dict(n.get("Resources") or {}),
        )
        for n in ray.nodes()
        if n.get("Alive")
    ]


def has_gpus(ray) -> bool:
    """Whether any node of the cluster offers GPUs (a CPU-only cluster measures on CPUs, as one machine does)."""
    return any(node.resources.get("GPU", 0) > 0 for node in alive_nodes(ray))
