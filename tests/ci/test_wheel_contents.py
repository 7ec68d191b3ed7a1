"""What a user installs: the measuring and pricing packages with their data, not the harness's own benchmarks."""

import subprocess
import sys
import zipfile

import pytest

from tests.support import REPO


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("tokencost_bench-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_the_development_benchmarks_stay_out_of_the_wheel(wheel_files):
    assert not [name for name in wheel_files if name.startswith("bench/overhead/")]


def test_the_wheel_carries_the_measuring_and_pricing_packages_with_their_data(wheel_files):
    for expected in (
        "bench/offline.py",
        "bench/gpu_smoke/__main__.py",
        "bench/suites/h100.toml",
        "bench/inputs/tiers.toml",
        "tokencost/cli/main.py",
        "tokencost/data/hardware.toml",
        "tokencost/publish/explorer/page.html",  # the cost explorer's template, style and script
        "tokencost/publish/explorer/explorer.css",
        "tokencost/publish/explorer/explorer.js",
    ):
        assert expected in wheel_files
