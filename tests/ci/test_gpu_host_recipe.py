"""What a GPU runner and the CUDA image need, checked statically (review gpu-host #3, #9, #10): Python 3.11+, a
virtual environment that survives checkout, `doctor --require-gpu` first, quick gates, pinned GPUs, a step timeout,
and a report and gate that still run when some points failed; PEP 668, provenance and the run flags in the image."""

import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.ci.test_ci_recipe import DOCKERFILE, ROOT, WORKFLOW

README = ROOT / "README.md"
GPU_DOCS = ROOT / "docs" / "gpu-host.md"
RECORDS_CHECK = "hashFiles(format('{0}/records.jsonl', env.RUN_DIR)) != ''"


@pytest.fixture(scope="module")
def job() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]["bench"]


def step(job: dict, *, named: str = "", runs: str = "", uses: str = "") -> tuple[int, dict]:
    found = [
        (i, s)
        for i, s in enumerate(job["steps"])
        if (named and named in s.get("name", ""))
        or (runs and runs in s.get("run", ""))
        or (uses and s.get("uses", "").startswith(uses))
    ]
    assert len(found) == 1, (named, runs, uses, found)
    return found[0]


def install_step(job: dict) -> tuple[int, dict]:
    return step(job, runs="-m pip install -e '.[cuda,test]'")


def test_python_is_at_least_3_11_from_setup_python_before_the_install(job):
    i, setup = step(job, uses="actions/setup-python@")
    major, minor = (int(part) for part in str(setup["with"]["python-version"]).split(".")[:2])
    assert (major, minor) >= (3, 11), "Ubuntu 22.04's python3 is 3.10; tokencost and vLLM 0.32.0 need 3.11+"
    assert i < install_step(job)[0]
    assert "python3 -m venv" not in WORKFLOW.read_text()  # the system python3, not setup-python's


def test_the_venv_lives_outside_the_workspace_keyed_on_pyproject(job):
    _, install = install_step(job)
    venv = install["env"]["VENV"]
    assert venv.startswith("${{ runner.tool_cache }}/"), "actions/checkout cleans the workspace: .venv would go"
    assert "hashFiles('pyproject.toml')" in venv
    assert "steps.python.outputs.python-version" in venv  # a new patch release of Python gets a new venv
    assert install["env"]["VENV_ROOT"].startswith("${{ runner.tool_cache }}/")
    assert ".venv" not in WORKFLOW.read_text()


def run_install(job: dict, tmp_path: Path, venv_name: str) -> list[str]:
    """The install step's script against a fake `python` that logs its arguments (and makes venvs)."""
    _, install = install_step(job)
    bin_dir, log = tmp_path / "bin", tmp_path / "python.log"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python"
    fake.write_text(
        '#!/bin/sh\necho "$*" >> "$LOG"\n'
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi\n'
    )
    fake.chmod(0o755)
    log.write_text("")
    root = tmp_path / "tool-cache" / "tokencost-venv"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LOG": str(log),
        "VENV_ROOT": str(root),
        "VENV": str(root / venv_name),
        "GITHUB_PATH": str(tmp_path / "github_path"),
    }
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", install["run"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines()


def test_the_venv_is_built_once_reused_and_replaced_when_pyproject_changes(job, tmp_path):
    root = tmp_path / "tool-cache" / "tokencost-venv"
    first = run_install(job, tmp_path, "py3.12.9-aaa")
    assert "-m pip install -e .[cuda,test]" in first
    assert (root / "py3.12.9-aaa" / ".complete").exists()

    again = run_install(job, tmp_path, "py3.12.9-aaa")
    assert [line for line in again if "venv" in line or "[cuda" in line] == []  # reused: no new venv, no install
    assert "-m pip install --no-deps -e ." in again  # but pointed at this checkout

    changed = run_install(job, tmp_path, "py3.12.9-bbb")
    assert "-m pip install -e .[cuda,test]" in changed
    assert sorted(p.name for p in root.iterdir()) == ["py3.12.9-bbb"]  # the old one (several GB) is gone
    assert (tmp_path / "github_path").read_text().splitlines()[-1] == str(root / "py3.12.9-bbb" / "bin")


def test_an_unfinished_venv_is_built_again(job, tmp_path):
    broken = tmp_path / "tool-cache" / "tokencost-venv" / "py3.12.9-aaa"
    (broken / "bin").mkdir(parents=True)  # an install that died half-way: no .complete
    assert "-m pip install -e .[cuda,test]" in run_install(job, tmp_path, "py3.12.9-aaa")


def test_doctor_require_gpu_is_the_first_check_after_the_install_then_the_quick_gates(job):
    i, _ = install_step(job)
    steps = [s.get("run", "") for s in job["steps"][i + 1 :]]
    assert "CUDA_VISIBLE_DEVICES=" in steps[0]  # the runner's GPUs and suite, which doctor checks
    assert 'tokencost doctor --require-gpu --suite "$TOKENCOST_SUITE"' in steps[1]
    assert steps[2].strip() == 'python -m bench.energy.gpu_check --seconds 10 --json "$RUN_DIR/gpu-check.json"'
    assert steps[3].strip() == "python -m pytest -m gpu -q"
    assert steps[4].strip().startswith("python -m bench.gpu_smoke --only vllm-offline,vllm-serve ")
    assert steps[5].strip().startswith("tokencost run ")
    for gate in job["steps"][i + 1 : i + 6]:
        assert "if" not in gate, "a failed precondition must stop the job before the measurement"


def test_nothing_is_fetched_while_measuring_and_gpus_are_numbered_by_bus(job):
    env = job["env"]
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    # set per runner by a step, never here, where a job-wide value would hide the runner's own
    assert "CUDA_VISIBLE_DEVICES" not in env and "TOKENCOST_SUITE" not in env


@pytest.mark.parametrize(
    "runner_env, repo_vars, gpus, suite",
    [
        (
            {"TOKENCOST_GPUS": "2,3", "TOKENCOST_SUITE": "bench/suites/h200.toml"},
            {"REPO_GPUS": "0", "REPO_SUITE": "x"},
            "2,3",
            "bench/suites/h200.toml",
        ),  # the runner's own .env wins
        ({}, {"REPO_GPUS": "1", "REPO_SUITE": "bench/suites/h200.toml"}, "1", "bench/suites/h200.toml"),
        ({}, {"REPO_GPUS": "", "REPO_SUITE": ""}, "0", "bench/suites/h100.toml"),  # unset repository variables
        ({"GPU_KIND": "h200"}, {"REPO_GPUS": "", "REPO_SUITE": ""}, "0", "bench/suites/h200.toml"),  # the kind's
    ],
)
def test_each_runner_pins_its_own_gpus_and_suite(job, tmp_path, runner_env, repo_vars, gpus, suite):
    _, pick = step(job, named="This runner's GPUs and suite")
    github_env = tmp_path / "github_env"
    env = {"PATH": "/usr/bin:/bin", "GITHUB_ENV": str(github_env), "GPU_KIND": "h100", **runner_env, **repo_vars}
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", pick["run"]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert github_env.read_text().splitlines() == [f"CUDA_VISIBLE_DEVICES={gpus}", f"TOKENCOST_SUITE={suite}"]
    assert set(pick["env"].values()) == {"${{ vars.TOKENCOST_GPUS }}", "${{ vars.TOKENCOST_SUITE }}"}


def test_the_measurement_has_a_step_timeout(job):
    _, measure = step(job, runs="tokencost run ")
    assert measure["id"] == "measure"
    assert measure["run"].strip() == 'tokencost run --suite "$TOKENCOST_SUITE" --out "$RUN_DIR"'
    assert "if" not in measure
    assert 0 < measure["timeout-minutes"] < job["timeout-minutes"] <= 240


def test_report_and_gate_run_when_points_failed_and_upload_always(job):
    # `tokencost run` exits 1 when some points failed: the measure step fails (the job ends red), yet whatever
    # records it wrote are still reported and gated.
    for name in ("Report", "Gate against the committed baseline"):
        _, s = step(job, named=name)
        condition = s["if"]
        assert "!cancelled()" in condition and "steps.measure.outcome != 'skipped'" in condition, name
        assert RECORDS_CHECK in condition, name
        assert "always()" not in condition and "success()" not in condition
    _, upload = step(job, uses="actions/upload-artifact@")
    assert upload["if"] == "always()"


def test_permissions_are_kept_and_each_gpu_kind_queues_on_its_own(job):
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert "concurrency" not in workflow  # one group for every runner would serialise them all
    assert job["concurrency"] == {"group": "gpu-bench-${{ matrix.gpu }}", "cancel-in-progress": False}
    assert "pull_request" not in workflow["on"] and "pull_request_target" not in workflow["on"]


def test_one_job_per_gpu_kind_on_its_runners_against_its_own_baseline(job):
    # tokencost compare matches points on their hardware: an H200 run against an H100 baseline matches nothing.
    assert job["strategy"] == {
        "fail-fast": False,
        "matrix": {"gpu": "${{ fromJSON(vars.TOKENCOST_GPU_KINDS || '[\"h100\"]') }}"},
    }
    assert job["runs-on"] == ["self-hosted", "gpu", "${{ matrix.gpu }}"]
    assert job["env"]["BASELINE_DIR"] == "results/baselines/gpu/${{ matrix.gpu }}"
    assert job["env"]["GPU_KIND"] == "${{ matrix.gpu }}"
    assert job["env"]["RUN_DIR"].endswith("-${{ matrix.gpu }}")  # two kinds' runs of one workflow run apart
    _, upload = step(job, uses="actions/upload-artifact@")
    assert upload["with"]["name"].endswith("-${{ matrix.gpu }}")
    labels = YAML(typ="safe").load((ROOT / ".github" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    for kind in ("h100", "h200"):
        assert kind in labels and (ROOT / "bench" / "suites" / f"{kind}.toml").is_file(), kind


def test_the_workflows_variables_are_documented():
    text, docs = WORKFLOW.read_text(), GPU_DOCS.read_text()
    variables = set(re.findall(r"vars\.(\w+)", text))
    assert variables == {"TOKENCOST_GPUS", "TOKENCOST_SUITE", "TOKENCOST_GPU_KINDS"}
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for name in variables:
        assert f"#   {name}" in header, name
        assert name in docs, name


@pytest.mark.parametrize("suite", ["bench/suites/h100.toml", "bench/suites/h200.toml"])
def test_the_gpu_suites_exist_run_vllm_only_and_time_out_points(suite, job):
    from bench.inputs.suite import load_suite

    path = ROOT / suite
    assert path.is_file(), f"{suite} is named by the workflow, the image and the README"
    loaded = load_suite(path)
    assert loaded.engines == ("vllm",), "the HF transformers baseline does not fit beside every GPU point"
    assert loaded.point_timeout_s, "a hung point must not eat the step's timeout"
    assert loaded.point_timeout_s < step(job, runs="tokencost run ")[1]["timeout-minutes"] * 60


# The image


def dockerfile_run_script() -> str:
    """The tokencost install: the RUN instruction, continuation lines joined as Docker joins them."""
    text = DOCKERFILE.read_text()
    [body] = re.findall(r"^RUN (.*?[^\\])\n", text.replace("\\\n", "\\\x00"), flags=re.MULTILINE | re.DOTALL)
    return body.replace("\\\x00", " ")


@pytest.mark.parametrize("with_uv", [True, False])
def test_the_image_installs_with_uv_when_present_else_pip_past_pep_668(tmp_path, with_uv):
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    for tool in ("uv", "python3") if with_uv else ("python3",):
        fake = bin_dir / tool
        fake.write_text(f'#!/bin/sh\necho "{tool} PIP_BREAK_SYSTEM_PACKAGES=$PIP_BREAK_SYSTEM_PACKAGES $*" >> "$LOG"\n')
        fake.chmod(0o755)
    result = subprocess.run(
        ["/bin/sh", "-c", dockerfile_run_script()],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(bin_dir), "LOG": str(log)},
    )  # Docker's RUN shell
    assert result.returncode == 0, result.stderr
    [line] = log.read_text().splitlines()
    if with_uv:
        assert line.startswith("uv ")
        assert "pip install --system --python python3 --break-system-packages" in line and line.endswith(" -e .")
    else:
        assert line == "python3 PIP_BREAK_SYSTEM_PACKAGES=1 -m pip install --no-cache-dir -e ."


def test_the_image_records_the_commit_it_was_built_from():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG GIT_COMMIT\b", text, flags=re.MULTILINE)
    assert re.search(r"^ENV TOKENCOST_GIT_COMMIT=\$GIT_COMMIT\b", text, flags=re.MULTILINE)
    # After the install, so a new commit does not reinstall everything.
    assert text.index("ARG GIT_COMMIT") > text.index("RUN if command -v uv")
    assert '--build-arg GIT_COMMIT="$(git rev-parse HEAD)"' in text


def test_the_image_sets_the_gpu_run_environment():
    instructions = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    env = " ".join(line for line in instructions.splitlines() if line.startswith("ENV "))
    for setting in (
        "HF_HUB_OFFLINE=1",
        "VLLM_NO_USAGE_STATS=1",
        "CUDA_DEVICE_ORDER=PCI_BUS_ID",
        # the compile caches in the one folder the run flags mount as a volume
        "VLLM_CACHE_ROOT=/var/cache/tokencost/vllm",
        "TRITON_CACHE_DIR=/var/cache/tokencost/triton",
    ):
        assert setting in env.split(), setting


def test_the_image_documents_its_run_flags_and_driver():
    comments = "\n".join(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("#"))
    for flag in (
        "--gpus '\"device=0\"'",
        "--ipc=host",
        "--pid=host",
        "-v tokencost-cache:/var/cache/tokencost",
        '-v "$PWD/results:/opt/tokencost/results"',
        "R580",
        "-cu129",
        "+cu129",
        "bench/suites/h200.toml",
    ):
        assert flag in comments, flag
    assert not [line for line in comments.splitlines() if "docker run" in line and "--gpus all" in line]


def test_the_gpu_host_page_matches_the_image_and_workflow():
    section = GPU_DOCS.read_text()
    for needed in (
        "R580",
        "--require-gpu",
        "3.11",
        "gcc",
        "python3-dev",
        "--ipc=host",
        "--pid=host",
        "--gpus '\"device=0\"'",
        "-v tokencost-cache:/var/cache/tokencost",
        "CUDA_DEVICE_ORDER=PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES",
        "bench/suites/h100.toml",
        "bench/suites/h200.toml",
        "tokencost run --dry-run --suite bench/suites/h100.toml",
        "python -m bench.gpu_smoke",
        "-cu129",
        "TOKENCOST_GPUS",
        "TOKENCOST_SUITE",
        "GIT_COMMIT",
    ):
        assert needed in section, needed


def test_the_readmes_gpu_section_gives_the_commands_in_order_and_points_to_the_page():
    section = readme_gpu_section()
    commands = (
        "pip install -e '.[cuda]'",
        "tokencost doctor --require-gpu",
        "python -m bench.gpu_smoke",
        "tokencost run --dry-run --suite bench/suites/h100.toml",
        "tokencost run --suite bench/suites/h100.toml",
    )
    positions = [section.index(command) for command in commands]
    assert positions == sorted(positions)
    assert "R580" in section and "(docs/gpu-host.md)" in section


def readme_gpu_section() -> str:
    return README.read_text().split("\n## Measure on a GPU host\n", 1)[1].split("\n## ", 1)[0]


def test_the_gpu_recipe_names_no_package_registry_host():
    for name, text in (
        ("workflow", WORKFLOW.read_text()),
        ("image", DOCKERFILE.read_text()),
        ("README", readme_gpu_section()),
        ("GPU host page", GPU_DOCS.read_text()),
    ):
        for host in ("py" + "pi", "hub.docker" + ".com", "docker" + " hub"):
            assert host not in text.lower(), (name, host)
