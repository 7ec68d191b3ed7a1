import pytest

from tests.nvml_sim import SimulatedGpu, SimulatedNvml, real_gpu_present

REAL_GPU = real_gpu_present()


@pytest.fixture
def nvml(monkeypatch):
    """Real NVML on a GPU host; otherwise two simulated H100s at 300 and 200 W."""
    if REAL_GPU:
        yield None
        return
    sim = SimulatedNvml([SimulatedGpu(0, power_w=300.0), SimulatedGpu(1, power_w=200.0)])
    sim.install(monkeypatch)
    yield sim


@pytest.fixture
def no_gpu(monkeypatch):
    """NVML as on a machine without a driver: nvmlInit fails."""
    import pynvml

    def fail():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", fail)


def pytest_collection_modifyitems(config, items):
    if REAL_GPU:
        return
    skip = pytest.mark.skip(reason="needs a real NVIDIA GPU")
    for item in items:
        if "gpu_only" in item.keywords:
            item.add_marker(skip)
