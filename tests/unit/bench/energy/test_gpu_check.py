import json

import pytest

from bench.energy import gpu_check
from tests.conftest import REAL_GPU


def test_without_a_gpu_it_says_so(no_gpu, capsys):
    assert gpu_check.main(["--seconds", "1"]) == 1
    assert "no NVIDIA GPU found" in capsys.readouterr().out


@pytest.mark.gpu
@pytest.mark.skipif(not REAL_GPU, reason="needs a real NVIDIA GPU and CUDA torch")
def test_counter_and_sampled_energy_agree_under_load(tmp_path):
    out = tmp_path / "check.json"
    assert gpu_check.main(["--seconds", "5", "--json", str(out)]) == 0
    load = json.loads(out.read_text())["phases"][1]
    assert load["method"] == "nvml-counter" and 0.9 <= load["counter_over_sampled"] <= 1.1
