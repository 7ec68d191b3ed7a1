"""Resolving the serving GPUs through NVML (simulated here; real with pytest -m gpu on a GPU host)."""

import pytest

from bench.energy import gpus
from bench.errors import UserError
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu


@pytest.mark.gpu
def test_all_visible_gpus_are_described(nvml):
    devices = gpus.visible_gpus({})
    info = gpus.describe(devices)
    assert devices and len(info) == len(devices)
    for entry in info:
        assert entry["name"] and entry["uuid"].startswith("GPU-") and entry["driver"] and entry["pci_bus_id"]
        assert entry["power_limit_w"] > 0


def _uuids(devices):
    return [d.uuid for d in devices]


@pytest.fixture
def node(monkeypatch):
    """An 8-GPU H100 node, as a cloud instance or `docker run --gpus all` shows it."""
    return simulate(monkeypatch, *(SimulatedGpu(i, power_w=100.0 + 10 * i) for i in range(8)))


@pytest.mark.parametrize(
    "visible, expected",
    [
        (None, [0, 1, 2, 3, 4, 5, 6, 7]),  # unset: every GPU, in bus order
        ("1", [1]),  # an index is a physical GPU, not a position among torch's renumbered devices
        ("2,3", [2, 3]),
        ("3,1", [3, 1]),  # permuted: CUDA device 0 is GPU 3
        ("1,0", [1, 0]),
        ("7", [7]),
        ("1,9,0", [1]),  # CUDA stops at the first invalid entry
        (" 4 , 5 ", [4, 5]),
    ],
)
def test_indices_name_physical_gpus_in_cuda_order(node, visible, expected):
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert _uuids(gpus.visible_gpus(env)) == [node.gpus[i].uuid for i in expected]
    assert _uuids(gpus.visible_gpus(env | {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"})) == [node.gpus[i].uuid for i in expected]


def test_uuids_and_unique_prefixes_name_gpus_in_the_order_given(node):
    uuids = [g.uuid for g in node.gpus]
    assert _uuids(gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": f"{uuids[6]},{uuids[2]}"})) == [uuids[6], uuids[2]]
    assert _uuids(gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-3a1e"})) == [uuids[3]]
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: GPU- matches 8 GPUs; use a full UUID"):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-"})
    with pytest.raises(UserError, match="names GPU-1a1e.* twice"):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": f"1,{uuids[1]}"})


def test_uuid_prefixes_are_written_out_in_full_for_vllm_which_takes_full_uuids_only(node):
    uuids = [g.uuid for g in node.gpus]
    assert gpus.with_full_uuids({"CUDA_VISIBLE_DEVICES": "GPU-3a1e,1"}) == f"{uuids[3]},{uuids[1]}"
    assert gpus.with_full_uuids({"CUDA_VISIBLE_DEVICES": f"{uuids[3]},1"}) is None  # nothing to write out
    assert gpus.with_full_uuids({"CUDA_VISIBLE_DEVICES": "2,3"}) is None
    assert gpus.with_full_uuids({}) is None


@pytest.mark.parametrize("visible", ["", "-1", "8", "x"])
def test_a_mask_that_hides_every_gpu_is_an_error_not_a_cpu_fallback(node, visible):
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: .* leaves none of this machine's 8 GPUs visible"):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": visible})


@pytest.mark.parametrize(
    "tp_pp_dp, visible, engine, idle",
    [
        (1, None, [0], [1, 2, 3, 4, 5, 6, 7]),  # TP=1 on an 8-GPU node: one GPU metered and priced, seven listed idle
        (4, None, [0, 1, 2, 3], [4, 5, 6, 7]),
        (8, None, [0, 1, 2, 3, 4, 5, 6, 7], []),
        (2, "5,4,6", [5, 4], [6]),
        (1, "3", [3], []),
    ],
)
def test_the_engine_uses_the_first_visible_gpus_and_the_rest_are_idle(node, tp_pp_dp, visible, engine, idle):
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    chosen = gpus.engine_gpus(tp_pp_dp, env)
    assert _uuids(chosen.engine) == [node.gpus[i].uuid for i in engine]
    assert _uuids(chosen.idle) == [node.gpus[i].uuid for i in idle]


def test_an_engine_needing_more_gpus_than_are_visible_is_refused(node):
    with pytest.raises(UserError, match="^engine parallelism: the engine needs 4 GPUs and 2 are visible"):
        gpus.engine_gpus(4, {"CUDA_VISIBLE_DEVICES": "0,1"})


def test_mixed_gpus_need_pci_bus_order_or_uuids(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, name="NVIDIA A100-SXM4-80GB"), SimulatedGpu(1))
    with pytest.raises(
        UserError, match="^CUDA_DEVICE_ORDER: GPUs of different models .*; set CUDA_DEVICE_ORDER=PCI_BUS_ID"
    ):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "1"})
    assert _uuids(gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})) == [
        sim.gpus[1].uuid
    ]
    assert _uuids(gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": sim.gpus[1].uuid})) == [sim.gpus[1].uuid]


def test_resolving_gpus_never_initialises_cuda(node):
    import sys

    gpus.engine_gpus(2, {"CUDA_VISIBLE_DEVICES": "1,0"})
    assert "torch" not in sys.modules or not sys.modules["torch"].cuda.is_initialized()


def test_unknown_uuid_is_a_user_error(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: GPU-nope matches no GPU"):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-nope"})


def test_mig_is_refused_on_the_engine_gpus_and_indices_are_refused_beside_it(monkeypatch):
    sim = simulate(monkeypatch, SimulatedGpu(0, mig_enabled=True), SimulatedGpu(1), SimulatedGpu(2))
    mig, _, other = (g.uuid for g in sim.gpus)
    with pytest.raises(UserError, match="MIG slice: NVML energy counts the whole GPU"):
        gpus.engine_gpus(1, {"CUDA_VISIBLE_DEVICES": mig})
    # CUDA numbers a MIG-mode GPU by its slices, so an index (or no mask) no longer names the GPU NVML means
    for mask in ({}, {"CUDA_VISIBLE_DEVICES": "1"}):
        with pytest.raises(UserError, match=f"^CUDA_VISIBLE_DEVICES: {mig} is in MIG mode, .*; name the GPUs"):
            gpus.engine_gpus(1, mask)
    chosen = gpus.engine_gpus(1, {"CUDA_VISIBLE_DEVICES": f"{other},{mig}"})  # by UUID: the MIG GPU only idles
    assert [d.uuid for d in chosen.engine] == [other] and [d.uuid for d in chosen.idle] == [mig]
    with pytest.raises(UserError, match="^CUDA_VISIBLE_DEVICES: MIG-1234 is"):
        gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "MIG-1234"})


def test_no_driver_means_no_gpus(no_gpu):
    assert gpus.all_gpus() == [] and gpus.visible_gpus({}) == [] and gpus.engine_gpus(1, {}) == gpus.GpuSet([], [])


def test_the_unofficial_pynvml_package_is_refused(monkeypatch, tmp_path):
    import sys

    fake = tmp_path / "pynvml.py"
    fake.write_text("# the old community bindings\n")
    monkeypatch.setitem(sys.modules, "pynvml", type(sys)("pynvml"))
    sys.modules["pynvml"].__file__ = str(fake)
    with pytest.raises(UserError, match="^pynvml: the module at .* is not NVIDIA's nvidia-ml-py; pip uninstall pynvml"):
        gpus.official_pynvml()
