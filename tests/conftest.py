"""Shared fixtures (NVML simulated or real, the default pricing, the published CPU demo run), the Hypothesis
profile, and the markers of the test tiers."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import FIXTURES, REPO, ray_cluster, run_cli
from tests.support.examples import CI
from tests.support.hub_cache import offline_hub  # noqa: F401 - a fixture: a Hugging Face cache, offline
from tests.support.nvml_sim import FakeClock, RealClock, SimulatedGpu, SimulatedNvml, real_gpu_present

# Hypothesis: "dev" tries a tenth of the examples, for the quick loop; "ci" the full counts (the default 100, and
# what tests ask for through tests.support.examples). HYPOTHESIS_PROFILE picks one; without it, CI=true picks ci.
# The deadline is 1 s an example, not Hypothesis's 200 ms: on two shared cores a stall of one example past 200 ms is
# the machine, not the code, and fails the test as flaky.
settings.register_profile(CI, max_examples=100, deadline=timedelta(seconds=1))
settings.register_profile("dev", max_examples=10, deadline=timedelta(seconds=1))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or (CI if os.environ.get("CI") else "dev"))

# Tiers, by folder: each marks every test below it (markers are registered in pyproject.toml).
TIER_FOLDERS = ("integration", "browser", "ci")
PEER_FILES = {"test_peer_tools.py"}  # builds AIPerf's and GuideLLM's own venvs
# Read a live stream's per-token pace (inter-token latencies, per-user tok/s and the fronts over it): beside a second
# engine on two cores, a tiny model's tokens reach the client in one burst and the pace is 0.
PACE_FILES = {"test_peer_tools.py", "test_serve_vllm.py"}
TESTS = Path(__file__).parent


def _uses(module, *things) -> bool:
    """Whether a test module imported any of `things` at its top."""
    return any(any(value is thing for thing in things) for value in vars(module).values())


def pytest_collection_modifyitems(config, items):
    """The tiers' markers: by folder; `ray` for a module that starts a local Ray cluster; `peers` for the peer
    tools; `subprocess` for a module that imports run_cli's starters at its top (a module mixing in-process and
    subprocess tests marks its subprocess tests itself)."""
    for item in items:
        path = Path(item.path)
        if not path.is_relative_to(TESTS):
            continue
        if path.relative_to(TESTS).parts[0] in TIER_FOLDERS:
            item.add_marker(path.relative_to(TESTS).parts[0])
        if path.name in PEER_FILES:
            item.add_marker("peers")
        if path.name in PACE_FILES:
            item.add_marker("pace")
        module = getattr(item, "module", None)
        if module is None:
            continue
        if _uses(module, ray_cluster.LocalRayCluster):
            item.add_marker("ray")
        if _uses(module, run_cli.tokencost, run_cli.start_tokencost):
            item.add_marker("subprocess")


@pytest.fixture(autouse=True)
def _console_script_only_when_marked(request, monkeypatch):
    """A test that starts the real `tokencost` process must say so (marker `subprocess`), so that the fast tier
    (`-m "not subprocess"`) leaves it out rather than slowing down."""
    if request.node.get_closest_marker("subprocess") is None:
        monkeypatch.setattr(run_cli, "ALLOWED", False)


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


@pytest.fixture(scope="session")
def rebuilt_gpu_table(tmp_path_factory):
    """The published GPU table (results/gpu-cost-table) rebuilt from its committed inputs into a folder of its own,
    once a session: a rebuild takes about 10 s. Read it; never write into it."""
    import shutil

    from tokencost.publish.gpu_table import write

    folder = tmp_path_factory.mktemp("gpu-table")
    shutil.copy(REPO / "results" / "gpu-cost-table" / "inputs.toml", folder / "inputs.toml")
    write(folder)
    return folder
