"""Flags that would be silently dropped, repeated or read as something else: each either takes effect or is refused
in one line naming the flag and its fix (exit 2), before anything starts."""

import pytest

from tests.support.cli import tokencost

DRY = ["run", "--dry-run", "--models", "tiny-dense"]


@pytest.mark.parametrize("flags", [["--repeats", "2"], ["--slo-ttft-ms", "100"], ["--slo-tpot-ms", "50"]])
def test_a_serving_only_flag_without_mode_plans_a_serving_run(flags):
    done = tokencost(*DRY, *flags)
    points = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert done.returncode == 0, done.stderr
    assert points and all("/vllm-serve/conc" in line for line in points)


@pytest.mark.parametrize("flags", [["--repeats", "2"], ["--slo-ttft-ms", "100"], ["--capacity", "chat"]])
def test_a_serving_only_flag_with_mode_offline_is_refused(flags):
    done = tokencost(*DRY, "--mode", "offline", *flags)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "tokencost: error: --mode: is offline but serving options were given; use --mode serve\n"


def test_a_capacity_load_without_a_capacity_search_is_refused():
    done = tokencost(*DRY, "--capacity-load", "rate")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("tokencost: error: --capacity-load: chooses the load a capacity search varies")
    assert "add --capacity TIER" in done.stderr
    assert tokencost(*DRY, "--capacity-load", "rate", "--capacity", "chat").returncode == 0


@pytest.mark.parametrize(
    "flag, values, twice",
    [
        ("--batch-sizes", "1,16,1", "1"),
        ("--engines", "vllm,transformers,vllm", "vllm"),
        ("--concurrency", "2,2", "2"),
        ("--request-rates", "1,1.0", "1.0"),
        ("--capacity", "chat,chat", "chat"),
    ],
)
def test_a_list_flag_that_names_a_value_twice_is_refused(flag, values, twice):
    done = tokencost(*DRY, flag, values)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"tokencost: error: {flag}: ")
    assert f"names {twice} more than once; give each value once" in done.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "[tiers.fast]\nttft_ms = true",
        "[tiers.fast]\ntpot_ms = false",
        "[tiers.fast]\nmin_tok_s_user = true",
        "min_window_s = true",
        "[serve]\nslo_ttft_ms = true",
        "[serve]\nrequest_rates = [true]",
        "[engine]\ngpu_memory_utilization = true",
    ],
)
def test_a_boolean_is_not_read_as_a_number(tmp_path, setting):
    suite = tmp_path / "suite.toml"
    suite.write_text(setting + "\n")
    done = tokencost("run", "--dry-run", "--suite", suite)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert "is True" in done.stderr or "is False" in done.stderr
    assert "input should be a valid number" in done.stderr


def test_a_number_where_a_number_belongs_is_still_read(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text("min_window_s = 5\n[tiers.fast]\nttft_ms = 500\ntpot_ms = 40.5\n")
    assert tokencost("run", "--dry-run", "--suite", suite).returncode == 0


@pytest.mark.parametrize(
    "address, problem",
    [
        ("user:hunter2@head:6379", "'[redacted]@head:6379' holds a user name or password, which Ray does not take"),
        ("hunter2@10.0.0.1:6379", "'[redacted]@10.0.0.1:6379' holds a user name or password, which Ray does not take"),
        ("head:65536", "port 65536 is not between 1 and 65535"),
        ("head:0", "port 0 is not between 1 and 65535"),
    ],
)
def test_a_ray_address_is_checked_without_echoing_a_password(address, problem):
    done = tokencost(*DRY, "--ray-address", address)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"tokencost: error: --ray-address: {problem}; give the head node's host:port")
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize(
    "args, fix",
    [
        (["run", "--isl", "abc"], "give a whole number, e.g. 128"),
        (["quote", "--gpu", "h100-sxm", "--tok-s", "abc"], "give a number, e.g. 2.5"),
        (["run", "--min-window-s", "nan"], "give a finite number"),
        (["run", "--mode", "fast"], "see `tokencost run --help`"),
        (["project", "--model", "tiny-dense"], "see `tokencost project --help`"),
        (["compare"], "see `tokencost compare --help`"),
        (["models", "--bogus"], "see `tokencost --help`"),
    ],
)
def test_an_argument_error_names_its_fix(args, fix):
    done = tokencost(*args)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    problem, _, named_fix = done.stderr.strip().partition("; ")
    assert problem.startswith("tokencost: error: ") and named_fix == fix


@pytest.mark.parametrize(
    "setting, where, choices",
    [
        ("[tiers.fast]\nttft_ms = 100\nbogus = 1", "tiers.fast.bogus", "description, min_tok_s_user, percentile"),
        ('[[extra_workloads]]\nkind = "random"\nbogus = 1', "extra_workloads.0.bogus", "batch_sizes, isl, kind"),
        ("[serve]\nbogus = 1", "serve.bogus", "api_key_env, capacity, capacity_load"),
    ],
)
def test_an_unknown_setting_lists_the_settings_of_its_own_table(tmp_path, setting, where, choices):
    suite = tmp_path / "suite.toml"
    suite.write_text(setting + "\n")
    done = tokencost("run", "--dry-run", "--suite", suite)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"tokencost: error: {suite} {where}: is not a setting; use one of: {choices}")
