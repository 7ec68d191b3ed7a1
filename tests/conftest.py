"""Shared fixtures: NVML simulated (or real on a GPU host), the default pricing, and the published CPU demo run."""

import pytest

from tests.support import FIXTURES
from tests.support.nvml_sim import FakeClock, RealClock, SimulatedGpu, SimulatedNvml, real_gpu_present

REAL_GPU = real_gpu_present()
# A copy of the real published run results/2026-11-27-cpu-demo (records only).
CPU_DEMO = FIXTURES / "reports" / "cpu-demo"


def simulate(monkeypatch, *gpus: SimulatedGpu, driver_loaded: bool = True) -> SimulatedNvml:
    sim = SimulatedNvml(list(gpus), FakeClock(), driver_loaded)
    sim.install(monkeypatch)
    return sim


@pytest.fixture
def sim(monkeypatch, request):
    """Always simulated: two H100s drawing 300 W and 200 W."""
    if REAL_GPU and "gpu" in request.keywords:
        pytest.skip("simulation-only test")
    return simulate(monkeypatch, SimulatedGpu(0, power_w=300.0), SimulatedGpu(1, power_w=200.0))


@pytest.fixture
def nvml(monkeypatch):
    """Real NVML and real time on a GPU host; the two simulated H100s and a fake clock elsewhere."""
    if REAL_GPU:
        yield None, RealClock
        return
    s = simulate(monkeypatch, SimulatedGpu(0, power_w=300.0), SimulatedGpu(1, power_w=200.0))
    yield s, s.clock


@pytest.fixture
def no_gpu(monkeypatch):
    """NVML as on a machine without a driver: nvmlInit fails with LibraryNotFound."""
    return simulate(monkeypatch, driver_loaded=False)


@pytest.fixture(scope="session")
def pricing():
    """The default pricing: preset 'owned', the shipped catalog, the preset's API."""
    from tokencost.pricing.assumptions import load_assumptions
    from tokencost.pricing.catalog import load_catalog
    from tokencost.pricing.priced_runs import Pricing

    return Pricing.of(load_assumptions(None), load_catalog())
