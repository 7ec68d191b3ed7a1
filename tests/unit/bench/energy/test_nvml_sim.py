"""The simulated NVML's own promises, which the energy tests build on."""

import pynvml
import pytest

from bench.energy import gpus
from tests.conftest import simulate
from tests.support.nvml_sim import SimulatedGpu, eight_gpu_node


def test_an_eight_gpu_node_has_distinct_realistic_ids(monkeypatch):
    node = eight_gpu_node(name="NVIDIA H200", memory_mib=143771)
    simulate(monkeypatch, *node)
    devices = gpus.all_gpus()
    assert [d.nvml_index for d in devices] == list(range(8)) and {d.name for d in devices} == {"NVIDIA H200"}
    assert len({d.uuid for d in devices}) == len({d.pci_bus_id for d in devices}) == 8
    assert [d.uuid[:12] for d in devices] == [f"GPU-{i}a1e0000" for i in range(8)]
    assert [len(part) for part in devices[0].uuid.removeprefix("GPU-").split("-")] == [8, 4, 4, 4, 12]
    assert devices[7].pci_bus_id == "00000000:1F:00.0"
    assert SimulatedGpu(17).uuid.startswith("GPU-1a1e0001-") and SimulatedGpu(17).uuid != SimulatedGpu(1).uuid


def test_memory_info_is_in_bytes(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0), SimulatedGpu(1, memory_mib=143771, memory_used_mib=1024))
    h100, h200 = (pynvml.nvmlDeviceGetMemoryInfo(d.handle) for d in gpus.all_gpus())
    assert (h100.total, h100.used, h100.free) == (81559 * 2**20, 0, 81559 * 2**20)
    assert (h200.total, h200.used, h200.free) == (143771 * 2**20, 2**30, 142747 * 2**20)


def test_fail_once_fails_the_next_call_only(monkeypatch):
    simulate(
        monkeypatch, SimulatedGpu(0, power_w=250.0, fail_once={"nvmlDeviceGetPowerUsage": pynvml.NVML_ERROR_UNKNOWN})
    )
    handle = gpus.all_gpus()[0].handle
    with pytest.raises(pynvml.NVMLError_Unknown):
        pynvml.nvmlDeviceGetPowerUsage(handle)
    assert pynvml.nvmlDeviceGetPowerUsage(handle) == 250_000


def test_a_field_fails_once_at_the_scopes_asked(monkeypatch):
    instant, gpu, module = pynvml.NVML_FI_DEV_POWER_INSTANT, pynvml.NVML_POWER_SCOPE_GPU, pynvml.NVML_POWER_SCOPE_MODULE
    simulate(monkeypatch, SimulatedGpu(0, fail_once={instant: pynvml.NVML_ERROR_UNKNOWN}))
    handle = gpus.all_gpus()[0].handle
    asked = [(instant, gpu), (instant, module)]
    assert [v.nvmlReturn for v in pynvml.nvmlDeviceGetFieldValues(handle, asked)] == [pynvml.NVML_ERROR_UNKNOWN] * 2
    assert [(v.nvmlReturn, v.value.uiVal) for v in pynvml.nvmlDeviceGetFieldValues(handle, asked)] == [(0, 300_000)] * 2


def test_old_drivers_lack_the_renamed_clock_event_reasons(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0, clock_event_reasons=0x4, event_reasons_function=False))
    handle = gpus.all_gpus()[0].handle
    with pytest.raises(pynvml.NVMLError_FunctionNotFound):
        pynvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
    assert pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle) == 0x4
