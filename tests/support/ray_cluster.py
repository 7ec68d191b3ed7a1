"""A real Ray cluster on this machine for integration tests: each node one `ray start --block` subprocess.

    with LocalRayCluster(tmp_path) as cluster:
        head = cluster.start_head(num_cpus=1, num_gpus=2, resources={"accelerator_type:H100": 1},
                                  sim_gpus=[{"index": i, "name": "NVIDIA H100 80GB HBM3"} for i in range(2)])
        worker = cluster.add_worker(num_cpus=1, num_gpus=2, resources={"accelerator_type:A100": 1}, sim_gpus=...)
        with cluster.driver() as ray:  # optional: the test process as a driver, for the block
            ray.get(...)
        cluster.kill(worker)  # SIGKILL the node's processes, wait until the head reports it dead

cluster.driver() is `ray.init(address=cluster.address, logging_level="ERROR")` ... `ray.shutdown()`. A driver
must shut down before the cluster exits (close() shuts down one of this cluster left connected here); a
subprocess joins with `--ray-address <cluster.address>` or RAY_ADDRESS. Such a driver runs on the head node:
with several nodes on one machine Ray connects a driver to the head's raylet.

Every process of a node inherits TOKENCOST_SIM_GPUS (its simulated NVML: see nvml_sim_site/sitecustomize.py)
and a tag variable naming the node; kill() and the exit find a node's processes by that tag, by parentage
(`ray start` is a child subreaper, so orphans stay below it) and by process group, so a worker's
grandchildren (an engine a task started, even in a session and environment of its own) die with the node.

Ray's declared GPUs are plain resources here: `--num-gpus G` gives GPU ids 0..G-1, and Ray sets
CUDA_VISIBLE_DEVICES of a task with num_gpus to the ids it holds, as on a real node.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support import REPO
from tests.support.nvml_sim import SIM_GPUS_ENV, gpus_to_json

RAY = Path(sys.executable).parent / "ray"
SIM_SITE = REPO / "tests" / "support" / "nvml_sim_site"
NODE_TAG = "TOKENCOST_RAY_NODE"  # "<cluster id>/<node number>" in the environment of every process of a node
HOST = "127.0.0.1"  # the GCS listens on every interface; Ray names the nodes by this machine's address

# Read by Ray's C++ processes from the environment (RAY_<config name>). The GCS declares a node dead after
# `threshold` failed health checks `period` apart (defaults 3 s x 5); 2 vCPUs keep up with 0.5 s x 4.
FAST_ENV = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "4",
    "RAY_USAGE_STATS_ENABLED": "0",
}
OBJECT_STORE_BYTES = 100 * 2**20  # Ray's minimum is 75 MiB; the default (30% of memory) only costs here
# Runs `ray start` (argv[1:]) as a child subreaper (prctl 36): a process whose parent dies is then
# reparented to it, not to init, so it stays in the node's process tree (a task's engine, once its worker
# has exited). The setting survives the exec; Ray never sees it.
SUBREAPER_EXEC = "import ctypes, os, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execv(sys.argv[1], sys.argv[1:])"


@dataclass
class Node:
    number: int  # 0 for the head, then in start order
    head: bool
    process: subprocess.Popen  # `ray start --block`, leader of its own session and process group
    tag: str  # NODE_TAG in the environment of each of its processes
    log: Path  # the output of `ray start`
    sim_gpus: list[dict]
    node_id: str = ""  # hex, as in ray.nodes()[i]["NodeID"] and ray.get_runtime_context().get_node_id()
    raylet: psutil.Process | None = None
    resources: dict = field(default_factory=dict)  # its total resources, as the GCS reports them
    start_seconds: float = 0.0  # from launch until the GCS reported it alive


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each socket stays bound until all are chosen, since a port given back may be
    the next one handed out, and Ray refuses two components on one port."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]


def _tagged(tags: set[str]) -> list[psutil.Process]:
    """The processes whose environment holds one of these NODE_TAG values."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(NODE_TAG) in tags:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _tree(root: psutil.Process | None) -> list[psutil.Process]:
    """root and its descendants; psutil refuses a pid that a new process has reused."""
    try:
        return [root, *root.children(recursive=True)] if root is not None else []
    except psutil.NoSuchProcess:
        return []


def _running(processes) -> list[psutil.Process]:
    """Those not gone yet; a zombie is gone (it only waits for its parent to read its status)."""
    running = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                running.append(p)
        except psutil.NoSuchProcess:
            pass
    return running


class LocalRayCluster:
    """A head and worker nodes on this machine, started with the venv's `ray` CLI; a context manager."""

    def __init__(
        self, tmp_path: Path, *, log_to_driver: bool = False, start_timeout: float = 90.0, ray_args: tuple = ()
    ):
        """log_to_driver: run each node's log monitor, which sends workers' output to drivers that ask for it
        (ray.init(log_to_driver=True)); it costs a process (~90 MB) and about a second per node. Without it
        workers' output stays in the node's log files. ray_args: more `ray start` flags for every node."""
        self.tmp_path = Path(tmp_path)
        self.start_timeout = start_timeout
        self.ray_args = [*([] if log_to_driver else ["--include-log-monitor=false"]), *ray_args]
        self.id = uuid.uuid4().hex[:12]
        # Ray's unix sockets live under its temp dir and may not pass 107 bytes: pytest's tmp_path is too
        # deep, so the temp dir is a short one, and its logs are copied to tmp_path/ray-logs at the exit.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
        self.nodes: list[Node] = []
        self.port: int | None = None
        self._gcs = None

    @property
    def address(self) -> str:
        """ "host:port" of the GCS, for ray.init(address=...) and `--ray-address`."""
        if self.port is None:
            raise RuntimeError("the head has not started")
        return f"{HOST}:{self.port}"

    def __enter__(self) -> "LocalRayCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Starting nodes

    def start_head(
        self,
        *,
        num_cpus: int,
        num_gpus: int = 0,
        resources: dict | None = None,
        sim_gpus: list[dict] | None = None,
        env_extra: dict | None = None,
    ) -> Node:
        if self.nodes:
            raise RuntimeError("the head has already started")
        self.port, dashboard, client_server, agent = free_ports(4)
        # No autoscaler monitor (a process nothing here reads); the head's fixed default ports made free ones.
        args = [
            "--head",
            f"--port={self.port}",
            f"--temp-dir={self.temp_dir}",
            "--no-monitor",
            "--include-dashboard=false",
            f"--dashboard-port={dashboard}",
            f"--ray-client-server-port={client_server}",
        ]
        return self._start(args, num_cpus, num_gpus, resources, sim_gpus, env_extra, agent)

    def add_worker(
        self,
        *,
        num_cpus: int,
        num_gpus: int = 0,
        resources: dict | None = None,
        sim_gpus: list[dict] | None = None,
        env_extra: dict | None = None,
    ) -> Node:
        if not self.nodes:
            raise RuntimeError("start the head first")
        (agent,) = free_ports(1)
        return self._start([f"--address={self.address}"], num_cpus, num_gpus, resources, sim_gpus, env_extra, agent)

    def _start(self, args, num_cpus, num_gpus, resources, sim_gpus, env_extra, agent_port: int) -> Node:
        number = len(self.nodes)
        command = [
            sys.executable,
            "-c",
            SUBREAPER_EXEC,
            str(RAY),
            "start",
            *args,
            "--block",
            f"--num-cpus={num_cpus}",
            f"--num-gpus={num_gpus}",
            f"--resources={json.dumps(resources or {})}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            "--disable-usage-stats",
            # Each node's agent listens on a fixed default port (52365): two nodes on one machine need two.
            f"--dashboard-agent-listen-port={agent_port}",
            *self.ray_args,
        ]
        node = Node(
            number,
            number == 0,
            None,
            f"{self.id}/{number}",
            self.tmp_path / f"ray-node-{number}.log",
            list(sim_gpus or []),
        )
        started = time.monotonic()
        with open(node.log, "wb") as out:
            node.process = subprocess.Popen(
                command,
                env=self._env(node, env_extra),
                cwd=self.tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.nodes.append(node)  # from here on close() kills it, whatever happens next
        node.raylet, node.node_id = self._wait_until(lambda: self._raylet(node), node, "to start its raylet")
        self._wait_until(lambda: self.node_states().get(node.node_id, {}).get("alive"), node, "to be reported alive")
        node.resources = self.node_states()[node.node_id]["resources"]
        node.start_seconds = time.monotonic() - started
        return node

    def _env(self, node: Node, env_extra: dict | None) -> dict:
        env = {**os.environ, **FAST_ENV, NODE_TAG: node.tag, "RAY_TMPDIR": str(self.temp_dir)}
        env["PYTHONPATH"] = os.pathsep.join([str(SIM_SITE), str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        # What the test process happens to have must not reach the node: Ray derives GPU ids from
        # CUDA_VISIBLE_DEVICES and would join the cluster in RAY_ADDRESS.
        for name in (SIM_GPUS_ENV, "CUDA_VISIBLE_DEVICES", "RAY_ADDRESS"):
            env.pop(name, None)
        if node.sim_gpus:
            env[SIM_GPUS_ENV] = gpus_to_json(node.sim_gpus)
        return {**env, **(env_extra or {})}

    @staticmethod
    def _raylet(node: Node) -> tuple[psutil.Process, str] | None:
        """The node's raylet and its node id (from its command line), once `ray start` has started it."""
        for p in _tree(psutil.Process(node.process.pid) if node.process.poll() is None else None):
            try:
                if p.name() == "raylet":
                    flags = [a for a in p.cmdline() if a.startswith("--node_id=")]
                    return (p, flags[0].split("=", 1)[1]) if flags else None
            except psutil.NoSuchProcess:
                pass
        return None

    def _wait_until(self, condition, node: Node, what: str, timeout: float | None = None, *, exits: bool = False):
        """condition()'s first true value, asked every 0.1 s; `exits`: the node's `ray start` may exit meanwhile."""
        timeout = timeout or self.start_timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            if not exits and node.process.poll() is not None:
                raise RuntimeError(
                    f"ray node {node.number} exited ({node.process.returncode}) before it came "
                    f"{what}; its output:\n{node.log.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.1)
        raise TimeoutError(
            f"ray node {node.number} took over {timeout} s {what}; "
            f"its output:\n{node.log.read_text(errors='replace')[-4000:]}"
        )

    @contextmanager
    def driver(self, **init_kwargs):
        """This process as a driver of the cluster, for the block: `with cluster.driver() as ray: ...`."""
        import ray

        ray.init(address=self.address, **{"logging_level": "ERROR", **init_kwargs})
        try:
            yield ray
        finally:
            ray.shutdown()

    def _shut_down_driver(self) -> None:
        """A driver of this cluster still connected here would outlive it, and refuse the next ray.init()."""
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized() and self.port is not None:
            if ray.get_runtime_context().gcs_address.rsplit(":", 1)[-1] == str(self.port):
                ray.shutdown()

    # The cluster as its head sees it

    def node_states(self) -> dict[str, dict]:
        """Every node the GCS knows: node id -> {"alive": bool, "head": bool, "resources": {...}}; {} while
        the GCS does not answer."""
        from ray._raylet import GcsClient  # a GCS client, not a driver: ray.init() stays the test's to call

        if self._gcs is None:
            self._gcs = GcsClient(address=self.address)
        try:
            infos = self._gcs.get_all_node_info(timeout=5).values()
        except Exception:  # not up yet, or busy: the callers ask again
            return {}
        alive = 0  # GcsNodeInfo.GcsNodeState.ALIVE
        return {
            info.node_id.hex(): {
                "alive": info.state == alive,
                "head": info.is_head_node,
                "resources": dict(info.resources_total),
            }
            for info in infos
        }

    def processes(self, node: Node | None = None) -> list[psutil.Process]:
        """The running processes of one node, or of the whole cluster: tagged, or below its `ray start` or
        raylet (what a task started with a clean environment)."""
        nodes = [node] if node is not None else self.nodes
        found = {p.pid: p for p in _tagged({n.tag for n in nodes})}
        for n in nodes:
            # `ray start` is this process's child: until reaped (poll() is None) its pid cannot be reused
            leader = psutil.Process(n.process.pid) if n.process.poll() is None else None
            found.update({p.pid: p for p in _tree(leader) + _tree(n.raylet)})
        return _running(found.values())

    # Stopping nodes

    def kill(self, node: Node, timeout: float = 60.0) -> float:
        """SIGKILL every process of the node, then wait until the head reports it dead (unless it is the
        head); return the seconds that took."""
        started = time.monotonic()
        self._kill_processes(node)
        if not node.head:
            self._wait_until(
                lambda: self.node_states().get(node.node_id, {}).get("alive") is False,
                node,
                "to be reported dead",
                timeout,
                exits=True,
            )
        return time.monotonic() - started

    def _kill_processes(self, node: Node, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        # All found first, then all killed: a process whose parent dies first leaves the tree it was found in.
        while victims := self.processes(node):
            if time.monotonic() > deadline:
                raise RuntimeError(f"ray node {node.number}: processes survive SIGKILL: {victims}")
            if node.process.poll() is None:  # not reaped, so its pid is still its process group's id
                try:
                    os.killpg(node.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for p in victims:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            node.process.wait(timeout=5)
            give_up = time.monotonic() + 2
            while _running(victims) and time.monotonic() < give_up:
                time.sleep(0.02)

    def close(self) -> None:
        """Kill every node, workers first, and check that no process of the cluster survives."""
        self._shut_down_driver()
        errors = []
        for node in reversed(self.nodes):
            try:
                self._kill_processes(node)
            except Exception as error:  # the next nodes die all the same
                errors.append(error)
        self._gcs = None
        leftovers = self.processes()
        self._copy_logs()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        if errors or leftovers:
            raise RuntimeError(f"the Ray cluster did not stop cleanly: {errors}; surviving processes: {leftovers}")

    def _copy_logs(self) -> None:
        for session in self.temp_dir.glob("session_2*"):
            shutil.copytree(
                session / "logs",
                self.tmp_path / "ray-logs" / session.name,
                dirs_exist_ok=True,
                symlinks=True,
                ignore_dangling_symlinks=True,
            )
