"""After a multi-node engine starts, its workers' GPUs are checked against the metered ones (NVML simulated)."""

from types import SimpleNamespace

from bench import environment, offline
from bench.energy.engine_workers import mismatch, where_this_worker_runs
from bench.energy.meters import make_meter
from bench.inputs.suite import Suite, with_overrides
from bench.run import run as run_module
from bench.run.records import read_records
from tests.conftest import simulate
from tests.support.fake_engine import FakeEngine, measured_record
from tests.support.nvml_sim import SimulatedGpu

NODE = "a" * 56  # a Ray node id


def metered(*gpus, node=NODE):
    return [{"name": "NVIDIA H100 80GB HBM3", "uuid": g.uuid, "node_id": node} for g in gpus]


def test_a_worker_names_the_gpu_its_device_index_selects_among_those_cuda_lets_it_see(monkeypatch):
    gpus = [SimulatedGpu(i) for i in range(4)]
    simulate(monkeypatch, *gpus)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # as vLLM's Ray executor sets it: the node's GPUs of the engine
    worker = SimpleNamespace(device=SimpleNamespace(index=1), local_rank=1)
    seen = where_this_worker_runs(worker)
    assert seen["gpu_uuid"] == gpus[3].uuid
    assert seen["node_id"] is None  # not in a Ray worker here


def test_workers_on_exactly_the_metered_gpus_pass_and_any_other_placement_is_named():
    gpus = [SimulatedGpu(i) for i in range(3)]
    workers = [{"node_id": NODE, "gpu_uuid": g.uuid} for g in gpus[:2]]
    assert mismatch(metered(*gpus[:2]), workers) is None
    moved = [workers[0], {"node_id": NODE, "gpu_uuid": gpus[2].uuid}]
    why = mismatch(metered(*gpus[:2]), moved)
    assert why == (
        f"vLLM's workers run on GPU {gpus[2].uuid[:16]} on node {NODE[:12]}, which tokencost does not meter; "
        f"no worker runs on the metered GPU {gpus[1].uuid[:16]} on node {NODE[:12]}"
    )
    elsewhere = [{"node_id": "b" * 56, "gpu_uuid": g.uuid} for g in gpus[:2]]  # the same GPU ids on another node
    assert "which tokencost does not meter" in mismatch(metered(*gpus[:2]), elsewhere)


class MisplacedEngine(FakeEngine):
    """A started multi-node engine whose one worker found itself (through the simulated NVML) on GPU 1."""

    def worker_gpus(self):
        return [where_this_worker_runs(SimpleNamespace(device=SimpleNamespace(index=0))) | {"node_id": NODE}]


def test_a_spanning_engine_whose_workers_run_elsewhere_fails_its_points_unmeasured(tmp_path, monkeypatch):
    gpus = [SimulatedGpu(0), SimulatedGpu(1)]
    simulate(monkeypatch, *gpus)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # vLLM put the worker on GPU 1; GPU 0 is the metered one
    measured = []

    def measure(self, engine, card, key, batch_size):
        measured.append(key)
        return measured_record(self.run, engine, card, key)

    monkeypatch.setattr(run_module, "IDLE_BASELINE_S", {"cpu": 0.0, "gpu": 0.0})
    monkeypatch.setattr(environment, "cpu_environment_defaults", lambda: None)
    monkeypatch.setattr(offline, "_start_engine", lambda *args: MisplacedEngine())
    monkeypatch.setattr(offline.PointMeasurement, "measure", measure)
    hardware = {
        "accelerator": "NVIDIA H100 80GB HBM3",
        "accelerator_count": 1,
        "gpus": metered(gpus[0]),
        "nodes": [{"node_id": NODE, "ip": "10.0.0.1", "hostname": "n1", "gpus": 1}],
    }
    suite = with_overrides(Suite(), models=["tiny-dense"], batch_sizes=[1, 2], engines=["vllm"], isl=16, osl=8)
    offline.run_sweep(suite, tmp_path / "run", meter=make_meter([], 1.0), hardware=hardware)

    records = read_records(tmp_path / "run")
    assert measured == []
    assert [(r.status, r.failure) for r in records] == [("failed", "workers-misplaced")] * 2
    assert f"run on GPU {gpus[1].uuid[:16]}" in records[0].error
