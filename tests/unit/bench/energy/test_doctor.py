"""`tokencost doctor`: what a GPU run would use and need, with NVML simulated and torch's answer faked."""

import shutil
import sys
import textwrap

import pynvml
import pytest

from bench.energy import doctor
from bench.energy.doctor import Finding, diagnose, missing, probe_torch
from tests.conftest import REAL_GPU, simulate
from tests.support.nvml_sim import SimulatedGpu, eight_gpu_node
from tokencost.cli.main import main

CUDA13 = {"torch": "2.11.0+cu130", "cuda": "13.0", "available": True, "devices": 1}


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch, tmp_path):
    """No GPU pinning, torch built for CUDA 13 seeing a GPU, a compiler and Python.h present."""
    for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"):
        monkeypatch.delenv(name, raising=False)
    header = tmp_path / "Python.h"
    header.write_text("")
    monkeypatch.setattr(doctor, "probe_torch", lambda env: CUDA13)
    monkeypatch.setattr(doctor, "python_header", lambda: header)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")


def text_of(findings: list[Finding], item: str) -> str:
    return next(f.text for f in findings if f.item == item)


def doctor_cli(capsys, *args) -> tuple[int, list[str]]:
    """The real CLI entry, in this process (so NVML stays simulated): exit code and printed lines."""
    code = main(["doctor", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


# Which GPUs a run would use


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_eight_gpu_node_with_tp1_uses_one_gpu_and_leaves_seven_idle(monkeypatch):
    node = eight_gpu_node()
    simulate(monkeypatch, *node)
    found = diagnose(1)
    assert text_of(found, "GPUs found") == "8"
    assert text_of(found, "engine GPUs") == f"1 of 8 visible ({node[0].uuid}); idle: 7"
    assert text_of(found, "GPU memory") == "81559 MiB per engine GPU"
    assert text_of(found, "energy counter") == "supported on all 1 engine GPU(s)"
    assert [f.text for f in found if f.item == "power"] == [
        f"{node[0].uuid}: power_w 300.0 W from instant (gpu scope); instant 300.0 W, average 300.0 W"
    ]
    assert text_of(found, "energy method").startswith("nvml-counter (boundary gpu)")


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_cuda_visible_devices_3_1_with_tp2_uses_gpu_3_then_1(monkeypatch):
    node = eight_gpu_node()
    simulate(monkeypatch, *node)
    found = diagnose(2, env={"CUDA_VISIBLE_DEVICES": "3,1"})
    assert text_of(found, "engine GPUs") == f"2 of 2 visible ({node[3].uuid}, {node[1].uuid}); idle: 0"
    assert [f.text.split(":")[0] for f in found if f.item == "power"] == [node[3].uuid, node[1].uuid]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_the_suite_sets_the_engine_gpus(monkeypatch, capsys, tmp_path):
    simulate(monkeypatch, *eight_gpu_node())
    suite = tmp_path / "tp4.toml"
    suite.write_text("[engine]\ntensor_parallel_size = 2\npipeline_parallel_size = 2\n")
    code, lines = doctor_cli(capsys, "--suite", suite, "--require-gpu")
    assert code == 0
    assert any(
        line.startswith("engine GPUs ") and line.endswith("; idle: 4") and " 4 of 8 visible " in line for line in lines
    )
    assert lines[-1] == "GPU run: every requirement is met"


# What --require-gpu refuses, one MISSING line each


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_all_good_exits_0(monkeypatch, capsys):
    simulate(monkeypatch, SimulatedGpu(0))
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 0
    assert not [line for line in lines if line.startswith("MISSING:")]
    assert "driver for CUDA    driver 580.95.05 runs CUDA 13.0 (needs >= 580)" in lines
    assert "torch              2.11.0+cu130 built for CUDA 13.0; CUDA available, 1 device(s)" in lines


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_driver_550_with_a_cuda_13_torch_fails_naming_driver_580(monkeypatch, capsys):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [
        "MISSING: driver for CUDA: driver 550.54.15 is too old for torch's CUDA 13.0, which needs driver >= 580: "
        "upgrade the driver, or install torch and vLLM built for an older CUDA (e.g. their +cu129 builds), or on a "
        "datacenter GPU set VLLM_ENABLE_CUDA_COMPATIBILITY=1 with CUDA 13.0's cuda-compat package installed"
    ]


def torch_seeing_cuda_through(compat):
    """torch's answer: CUDA available only when the compatibility libraries come first on LD_LIBRARY_PATH."""

    def probe(env):
        first = (env.get("LD_LIBRARY_PATH") or "").split(":")[0]
        return CUDA13 | {"available": first == str(compat)}

    return probe


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_an_old_datacenter_driver_passes_through_cuda_forward_compatibility(monkeypatch, tmp_path):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    compat = tmp_path / "compat"
    compat.mkdir()
    env = {"VLLM_ENABLE_CUDA_COMPATIBILITY": "1", "VLLM_CUDA_COMPATIBILITY_PATH": str(compat), "LD_LIBRARY_PATH": "/x"}
    found = diagnose(env=env, torch_probe=torch_seeing_cuda_through(compat))
    assert missing(found) == []
    assert text_of(found, "driver for CUDA") == (
        "driver 550.54.15 is older than CUDA 13.0 needs (>= 580); CUDA forward compatibility "
        f"(VLLM_ENABLE_CUDA_COMPATIBILITY, libraries in {compat}) lets torch see the GPU"
    )
    # Without the switch the same libraries are not used, as vLLM would not use them.
    off = diagnose(env=env | {"VLLM_ENABLE_CUDA_COMPATIBILITY": "0"}, torch_probe=torch_seeing_cuda_through(compat))
    assert [f.item for f in missing(off)] == ["torch", "driver for CUDA"]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_compatibility_libraries_that_do_not_help_fail_the_driver_line(monkeypatch, tmp_path):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    compat = tmp_path / "compat"
    compat.mkdir()
    env = {"VLLM_ENABLE_CUDA_COMPATIBILITY": "true", "VLLM_CUDA_COMPATIBILITY_PATH": str(compat)}
    found = diagnose(env=env, torch_probe=lambda env: CUDA13 | {"available": False})  # a consumer GPU: error 803
    assert "did not make CUDA available to torch" in text_of(found, "driver for CUDA")
    assert [f.item for f in missing(found)] == ["torch", "driver for CUDA"]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_cuda_12_torch_needs_driver_525(monkeypatch):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    cuda12 = CUDA13 | {"torch": "2.11.0+cu129", "cuda": "12.9"}
    found = diagnose(torch_probe=lambda env: cuda12)
    assert text_of(found, "driver for CUDA") == "driver 550.54.15 runs CUDA 12.9 (needs >= 525)"
    assert missing(found) == []


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_an_energy_counter_unsupported_on_an_engine_gpu_fails(monkeypatch, capsys):
    gpu = SimulatedGpu(0, counter_supported=False)
    simulate(monkeypatch, gpu)
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [
        f"MISSING: energy counter: NOT supported on {gpu.uuid}"
    ]
    assert any(line.startswith("energy method      nvml-sampled (boundary gpu)") for line in lines)


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_no_c_compiler_fails(monkeypatch, capsys):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [
        "MISSING: C compiler: no cc or gcc on PATH: Triton compiles C at run time for vLLM's torch.compile and "
        "fused MoE (install build-essential)"
    ]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_gcc_alone_is_enough_and_a_missing_python_h_fails(monkeypatch, tmp_path):
    simulate(monkeypatch, SimulatedGpu(0))
    found = diagnose(which=lambda name: "/usr/bin/gcc" if name == "gcc" else None, header=tmp_path / "no" / "Python.h")
    assert text_of(found, "C compiler") == "gcc: /usr/bin/gcc"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert missing(found) == [
        Finding(
            "Python.h",
            f"{tmp_path / 'no' / 'Python.h'} is missing: Triton's C build includes it (install python{version}-dev)",
            False,
        )
    ]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
@pytest.mark.parametrize(
    "probe, expected",
    [
        ({"error": "not installed"}, "torch: cannot be used: not installed"),
        (
            {"torch": "2.13.0+cpu", "cuda": None, "available": False, "devices": 0},
            "torch: 2.13.0+cpu is a CPU build: no CUDA",
        ),
        (
            CUDA13 | {"available": False, "devices": 0},
            "torch: 2.11.0+cu130 built for CUDA 13.0; CUDA NOT available to torch",
        ),
    ],
)
def test_torch_missing_or_without_cuda_fails(monkeypatch, capsys, probe, expected):
    simulate(monkeypatch, SimulatedGpu(0))
    monkeypatch.setattr(doctor, "probe_torch", lambda env: probe)
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [f"MISSING: {expected}"]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
@pytest.mark.parametrize(
    "visible, tp, expected",
    [
        (
            "5",
            1,
            "CUDA_VISIBLE_DEVICES: '5' leaves none of this machine's 2 GPUs visible; name GPUs by index or UUID "
            "(nvidia-smi -L), or unset it",
        ),
        (
            "1",
            2,
            "engine parallelism: the engine needs 2 GPUs and 1 are visible; lower tensor/pipeline/"
            "data_parallel_size, or make more GPUs visible (CUDA_VISIBLE_DEVICES)",
        ),
    ],
)
def test_gpu_pinning_and_parallelism_errors_fail(monkeypatch, capsys, tmp_path, visible, tp, expected):
    simulate(monkeypatch, SimulatedGpu(0), SimulatedGpu(1))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    suite = tmp_path / "suite.toml"
    suite.write_text(f"[engine]\ntensor_parallel_size = {tp}\n")
    code, lines = doctor_cli(capsys, "--suite", suite, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [f"MISSING: engine GPUs: {expected}"]


# Without a GPU: informational unless a GPU is required


def test_no_gpu_plain_doctor_exits_0(no_gpu, capsys):
    code, lines = doctor_cli(capsys)
    assert code == 0
    assert "GPUs found         0" in lines
    assert not [line for line in lines if line.startswith("MISSING:")]
    assert any(
        line.startswith(("energy method      estimated (boundary cpu)", "energy method      rapl")) for line in lines
    )


def test_no_gpu_require_gpu_exits_1_naming_nvml_and_the_engine_gpus(no_gpu, capsys):
    code, lines = doctor_cli(capsys, "--require-gpu")
    assert code == 1
    assert [line for line in lines if line.startswith("MISSING:")] == [
        "MISSING: NVML: not available (NVML Shared Library Not Found): no NVIDIA driver or GPU on this machine",
        "MISSING: engine GPUs: none: NVML sees no GPU",
    ]


def test_a_suite_that_is_a_directory_is_one_line_and_exit_2(no_gpu, capsys, tmp_path):
    code = main(["doctor", "--suite", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        f"tokencost: error: --suite: {tmp_path} cannot be read (Is a directory); give the path of a suite TOML file"
    ]


@pytest.mark.skipif(REAL_GPU, reason="simulation-only test")
def test_power_fields_at_module_scope_are_reported(monkeypatch):
    gpu = SimulatedGpu(0, power_w=310.0, gpu_scope_power=False)
    simulate(monkeypatch, gpu)
    found = diagnose()
    assert [f.text for f in found if f.item == "power"] == [
        f"{gpu.uuid}: power_w 310.0 W from instant (module scope); instant 310.0 W, average 310.0 W"
    ]


# The torch probe: a child process, so the harness never initialises CUDA


def fake_torch(tmp_path, body: str) -> dict:
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(textwrap.dedent(body))
    return {"PYTHONPATH": str(tmp_path)}


def test_probe_torch_reports_the_build_and_what_it_sees(tmp_path):
    env = fake_torch(
        tmp_path,
        """
        from types import SimpleNamespace
        __version__ = "2.11.0+cu130"
        version = SimpleNamespace(cuda="13.0")
        cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: 8)
    """,
    )
    assert probe_torch(env) == {"torch": "2.11.0+cu130", "cuda": "13.0", "available": True, "devices": 8}


def test_probe_torch_says_why_torch_cannot_be_used(tmp_path):
    env = fake_torch(tmp_path, "raise RuntimeError('libcudart.so.13: cannot open shared object file')")
    assert probe_torch(env) == {"error": "RuntimeError: libcudart.so.13: cannot open shared object file"}


def test_probe_torch_times_out(tmp_path):
    env = fake_torch(tmp_path, "import time\ntime.sleep(30)")
    assert probe_torch(env, timeout_s=0.5) == {"error": "importing torch took over 0.5 s"}


@pytest.mark.gpu
def test_doctor_on_a_gpu_host_chooses_nvml():
    if not REAL_GPU:
        pytest.skip("needs a real NVIDIA GPU")
    assert next(f.text for f in diagnose() if f.item == "energy method").startswith("nvml-")
