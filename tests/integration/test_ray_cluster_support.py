"""The test support for fleets: simulated GPUs in any process, and a real local Ray cluster of simulated nodes."""

import json
import os
import shutil
import subprocess
import sys
import time

import psutil
import pytest

from tests.support.nvml_sim import SIM_GPUS_ENV
from tests.support.ray_cluster import NODE_TAG, SIM_SITE, LocalRayCluster

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"


def run_python(code: str, sim_gpus: str | None) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter outside the repository, with only the site folder on its path."""
    env = {k: v for k, v in os.environ.items() if k != SIM_GPUS_ENV}
    env["PYTHONPATH"] = str(SIM_SITE)  # sitecustomize finds the repository by itself
    if sim_gpus is not None:
        env[SIM_GPUS_ENV] = sim_gpus
    return subprocess.run([sys.executable, "-c", code], env=env, cwd="/", capture_output=True, text=True, timeout=60)


READ_GPUS = """
import json, pynvml
from bench.energy import gpus
devices = gpus.all_gpus()
print(json.dumps({"count": pynvml.nvmlDeviceGetCount(), "names": [d.name for d in devices],
                  "energy_mj": pynvml.nvmlDeviceGetTotalEnergyConsumption(devices[0].handle)}))
"""


# The first import of pynvml may be nvml_sim's own, while that module is only half executed.
@pytest.mark.parametrize("first", ["", "import tests.support.nvml_sim\n"], ids=["pynvml-first", "nvml_sim-first"])
def test_sitecustomize_simulates_the_gpus_the_environment_lists(first):
    gpus = [{"index": i, "name": A100, "power_w": 250, "memory_mib": 81920} for i in range(3)]
    before = time.perf_counter()
    done = run_python(first + READ_GPUS, json.dumps(gpus))
    after = time.perf_counter()
    assert done.returncode == 0 and done.stderr == "", done.stderr
    seen = json.loads(done.stdout)
    assert seen["count"] == 3 and seen["names"] == [A100] * 3
    # The counter is power x CLOCK_MONOTONIC, a clock every process on the machine shares.
    assert 7_000_000 + 250 * before * 1000 <= seen["energy_mj"] <= 7_000_000 + 250 * after * 1000


def test_sitecustomize_without_the_variable_leaves_pynvml_alone():
    done = run_python("import pynvml; print(hasattr(pynvml.nvmlInit, 'mock_calls'))", None)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")


def test_sitecustomize_never_stops_a_process():
    done = run_python("import pynvml; print('still here')", "[{not json")
    assert done.returncode == 0 and done.stdout == "still here\n"
    assert len(done.stderr.splitlines()) == 1 and "simulation not installed" in done.stderr


def probe() -> dict:
    """What a task sees on its node."""
    import pynvml
    import ray

    from bench.energy import gpus

    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "gpu_ids": ray.get_gpu_ids(),
        "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "tag": os.environ.get(NODE_TAG),
        "nvml_names": [pynvml.nvmlDeviceGetName(h) for h in handles],
        "visible_names": [d.name for d in gpus.visible_gpus()],
    }


def hold(path: str) -> None:
    """A task still running when its node dies. It starts what an engine might: a child in a session of its
    own (as vLLM's server), and a daemon whose parent has exited, both with an empty environment (no tag)."""
    sleep = shutil.which("sleep")
    child = subprocess.Popen([sleep, "300"], start_new_session=True, env={})
    daemon = subprocess.run(
        ["/bin/sh", "-c", f"{sleep} 300 >/dev/null 2>&1 & echo $!"], env={}, capture_output=True, text=True, check=True
    ).stdout
    with open(path + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "child": child.pid, "daemon": int(daemon)}, f)
    os.rename(path + ".tmp", path)
    time.sleep(300)


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_file(path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.1)
    return json.loads(path.read_text())


@pytest.mark.timeout(300)
def test_a_local_cluster_of_simulated_gpu_nodes(tmp_path):
    ray = pytest.importorskip("ray")
    h100s = [{"index": i, "name": H100} for i in range(2)]
    a100s = [{"index": i, "name": A100, "memory_mib": 81920} for i in range(2)]
    with LocalRayCluster(tmp_path) as cluster:
        head = cluster.start_head(num_cpus=1, num_gpus=2, resources={"accelerator_type:H100": 1}, sim_gpus=h100s)
        worker = cluster.add_worker(num_cpus=1, num_gpus=2, resources={"accelerator_type:A100": 1}, sim_gpus=a100s)
        assert head.head and not worker.head and head.node_id != worker.node_id
        assert head.resources["GPU"] == worker.resources["GPU"] == 2
        assert head.resources["accelerator_type:H100"] == worker.resources["accelerator_type:A100"] == 1
        assert {n["head"] for n in cluster.node_states().values()} == {True, False}

        with cluster.driver() as ray:
            assert ray.get_runtime_context().get_node_id() == head.node_id  # a driver here joins the head
            task = ray.remote(probe)
            on_a100 = ray.get(task.options(num_gpus=1, resources={"accelerator_type:A100": 0.01}).remote())
            on_h100 = ray.get(task.options(num_gpus=1, resources={"accelerator_type:H100": 0.01}).remote())
            for seen, node, name in [(on_a100, worker, A100), (on_h100, head, H100)]:
                assert seen["node_id"] == node.node_id and seen["tag"] == node.tag
                assert len(seen["gpu_ids"]) == 1 and seen["cuda_visible"] == str(seen["gpu_ids"][0]) in ("0", "1")
                assert seen["nvml_names"] == [name, name] and seen["visible_names"] == [name]

            held = tmp_path / "held.json"
            ref = ray.remote(max_retries=0)(hold).options(resources={"accelerator_type:A100": 0.01}).remote(str(held))
            holding = wait_for_file(held)
            worker_pids = {p.pid for p in cluster.processes(worker)}
            assert {worker.raylet.pid, *holding.values()} <= worker_pids
            assert psutil.Process(holding["daemon"]).ppid() == worker.process.pid  # `ray start` is a subreaper

            cluster.kill(worker)  # while the driver waits on a task there
            with pytest.raises(ray.exceptions.NodeDiedError):
                ray.get(ref, timeout=60)
        states = cluster.node_states()
        assert states[worker.node_id]["alive"] is False and states[head.node_id]["alive"] is True
        assert cluster.processes(worker) == [] and not any(running(pid) for pid in worker_pids)
        head_pids = {p.pid for p in cluster.processes(head)}
        assert head.raylet.pid in head_pids
        ray.init(address=cluster.address, logging_level="ERROR")  # left connected: the exit shuts it down
    assert not ray.is_initialized() and not any(running(pid) for pid in head_pids)
    assert (tmp_path / "ray-logs").is_dir() and not cluster.temp_dir.exists()
