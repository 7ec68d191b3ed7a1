"""Resolving the serving GPUs through NVML (simulated here; real with pytest -m gpu on a GPU host)."""

import pytest

from bench.energy import gpus
from bench.errors import UserError
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu


@pytest.mark.gpu
def test_all_visible_gpus_are_described(nvml):
    devices = gpus.serving_gpus({})
    info = gpus.describe(devices)
    assert devices and len(info) == len(devices)
    for entry in info:
        assert entry["name"] and entry["uuid"].startswith("GPU-") and entry["driver"] and entry["pci_bus_id"]
        assert entry["power_limit_w"] > 0


def test_indices_follow_cuda_order_and_uuids_match_exactly(monkeypatch):
    sim = simulate(monkeypatch, *(SimulatedGpu(i) for i in range(4)))
    uuids = [g.uuid for g in sim.gpus]
    pci_order = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert [d.uuid for d in gpus.serving_gpus(pci_order | {"CUDA_VISIBLE_DEVICES": "2,0"})] == [uuids[2], uuids[0]]
    assert [d.uuid for d in gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": f"{uuids[3]},{uuids[1]}"})] == [uuids[3], uuids[1]]
    # a unique UUID prefix, as CUDA accepts; an ambiguous one is refused
    assert [d.uuid for d in gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": "GPU-3a1e"})] == [uuids[3]]
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: GPU-a1e matches no GPU|^CUDA_VISIBLE_DEVICES: GPU- matches 4 GPUs"):
        gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": "GPU-"})
    # CUDA stops at the first invalid entry
    assert [d.uuid for d in gpus.serving_gpus(pci_order | {"CUDA_VISIBLE_DEVICES": "1,9,0"})] == [uuids[1]]
    assert gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_unknown_uuid_is_a_user_error(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: GPU-nope matches no GPU"):
        gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": "GPU-nope"})


def test_mig_is_refused(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0, mig_enabled=True))
    with pytest.raises(UserError, match="MIG slice: NVML energy counts the whole GPU"):
        gpus.serving_gpus({})
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: MIG-1234 is"):
        gpus.serving_gpus({"CUDA_VISIBLE_DEVICES": "MIG-1234"})


def test_no_driver_means_no_gpus(no_gpu):
    assert gpus.all_gpus() == [] and gpus.serving_gpus({}) == []


def test_other_processes_on_the_serving_gpus_are_found(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0, processes=[111, 222]), SimulatedGpu(1, processes=[333]))
    devices = gpus.serving_gpus({})
    assert gpus.other_processes(devices, own_pids={111}) == [
        {"gpu": devices[0].uuid, "pid": 222}, {"gpu": devices[1].uuid, "pid": 333}]


def test_the_unofficial_pynvml_package_is_refused(monkeypatch, tmp_path):
    import sys

    fake = tmp_path / "pynvml.py"
    fake.write_text("# the old community bindings\n")
    monkeypatch.setitem(sys.modules, "pynvml", type(sys)("pynvml"))
    sys.modules["pynvml"].__file__ = str(fake)
    with pytest.raises(UserError, match="^pynvml: the module at .* is not NVIDIA's nvidia-ml-py; pip uninstall pynvml"):
        gpus.official_pynvml()
