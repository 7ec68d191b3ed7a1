"""`tokencost run` with the workload flags (--workload, --prefixes, --prefix-len, --turns, --trace), through the
command line in this process, planning with --dry-run (which starts no engine).

Every command runs once, when the first test asks, and the tests read what it printed and returned.
"""

import re

import pytest

from tests.support.cli import tokencost

DRY = ["run", "--dry-run", "--models", "tiny-dense", "--engines", "vllm"]
GIB = ["--gpu-memory-gib", "80"]  # a fixed GPU, so the verdicts do not depend on this machine
TRACE_FIX = (
    "give a Mooncake-format JSONL trace: one JSON object a line with timestamp (ms), input_length, "
    "output_length and hash_ids"
)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-workloads")
    binary = folder / "trace.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    return {"missing": folder / "nonexistent.jsonl", "dir": folder, "binary": binary}


def commands(paths) -> dict[str, list]:
    return {
        "shared-prefix": [*DRY, "--workload", "shared-prefix", *GIB],
        "bogus": [*DRY, "--workload", "bogus"],
        "prefix-len-0": [*DRY, "--prefix-len", "0"],
        "prefix-len-600": [*DRY, "--prefix-len", "600", "--workload", "shared-prefix"],
        "turns-1": [*DRY, "--turns", "1", "--workload", "multi-turn"],
        "turns-1000": [*DRY, "--workload", "multi-turn", "--turns", "1000", *GIB],
        "trace-missing": [*DRY, "--trace", paths["missing"], "--workload", "trace"],
        "trace-dir": [*DRY, "--trace", paths["dir"], "--workload", "trace"],
        "trace-binary": [*DRY, "--trace", paths["binary"], "--workload", "trace"],
    }


@pytest.fixture(scope="module")
def ran(paths):
    return {name: tokencost(*args) for name, args in commands(paths).items()}


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0]


def test_a_shared_prefix_dry_run_plans_its_points(ran):
    done = ran["shared-prefix"]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "GPUs: 1 assumed, 80 GiB each (--gpu-memory-gib)"
    fits = "fits: weights 0.0 GiB + reserve 2.5 GiB, KV room 69.5 GiB for 56924 sequences of 640 tokens"
    for batch in (1, 16, 64):
        assert f"  tiny-dense/vllm/batch{batch}/shared-prefix-4x384-128-128: {fits}" in lines
    points = [line for line in lines if line.startswith("  ")]
    assert all(": fits: " in line for line in points)
    assert re.fullmatch(rf"{len(points)} of {len(points)} points would run; nothing was started or measured", lines[-1])
    assert done.stderr == ""


@pytest.mark.parametrize(
    "case, line",
    [
        (
            "bogus",
            "tokencost: error: --workload: invalid choice: 'bogus' (choose from 'random', 'shared-prefix', "
            "'multi-turn', 'trace', 'lengths'); see `tokencost run --help`",
        ),
        ("prefix-len-0", "tokencost: error: --prefix-len: is 0; give a positive integer"),
        (
            "turns-1",
            "tokencost: error: --turns: is 1; input should be greater than or equal to 2 "
            "(suite setting workload.multi_turn.turns)",
        ),
    ],
)
def test_a_bad_workload_flag_is_one_line_naming_it_and_exit_2(ran, case, line):
    assert one_line_error(ran[case]) == line
    assert ran[case].stdout == ""


def test_a_prefix_as_long_as_the_prompt_is_refused_in_one_line_naming_its_flag(ran):
    assert one_line_error(ran["prefix-len-600"]) == (
        "tokencost: error: --prefix-len: is 600, which leaves no suffix in isl 512; give a prefix_len below isl "
        "(the suffix is isl - prefix_len) (suite setting workload.shared_prefix.prefix_len)"
    )
    assert ran["prefix-len-600"].stdout == ""


def test_a_multi_turn_workload_beyond_the_context_is_a_skipped_point_like_any_too_long_workload(ran):
    done = ran["turns-1000"]
    assert done.returncode == 1 and done.stderr == ""
    skip = (
        "SKIP: workload (multi-turn 1000 turns 256+64/128): its longest request needs 192192 tokens, beyond "
        "tiny-dense's context of 4096; use fewer workload.multi_turn.turns, or a shorter isl, osl or user_len"
    )
    lines = done.stdout.splitlines()
    multi = [line for line in lines if "/multi-turn-1000-turns-256-64-128:" in line]
    assert multi == [f"  tiny-dense/vllm/batch{b}/multi-turn-1000-turns-256-64-128: {skip}" for b in (1, 16, 64)]
    would_run = len([line for line in lines if line.startswith("  ") and "SKIP" not in line])
    assert re.fullmatch(
        rf"{would_run} of {would_run + len(multi)} points would run; nothing was started or measured", lines[-1]
    )


def in_process(capsys, *args) -> tuple[int, str, str]:
    from tokencost.cli.main import main

    code = main([*DRY, *map(str, args), *GIB])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_missing_trace_under_serve_is_refused_in_one_line(capsys, paths):
    code, _, err = in_process(capsys, "--mode", "serve", "--trace", paths["missing"], "--workload", "trace")
    assert code == 2
    assert err.splitlines() == [
        f"tokencost: error: --trace: {paths['missing']} does not exist; give the path of a trace file"
    ]


@pytest.mark.parametrize(
    "case, problem",
    [
        ("trace-missing", "{missing} does not exist; give the path of a trace file"),
        ("trace-dir", "{dir} is a directory; give the path of a trace file in it"),
        ("trace-binary", "{binary} line 1: is binary, not text; " + TRACE_FIX),
    ],
)
def test_an_unreadable_trace_is_refused_in_one_line_before_anything_starts(ran, paths, case, problem):
    line = one_line_error(ran[case])
    assert line == "tokencost: error: --trace: " + problem.format(**paths)


def test_flags_that_match_the_demos_extra_workload_are_not_refused_for_a_setting_never_given(capsys):
    code, _, err = in_process(capsys, "--workload", "shared-prefix", "--prefix-len", "128", "--isl", "256")
    assert code == 0, err  # the demo's extra point is the main one now, measured once


@pytest.mark.parametrize(
    "flag, value, kind",
    [
        ("--prefix-len", "100", "shared-prefix"),
        ("--prefixes", "2", "shared-prefix"),
        ("--turns", "3", "multi-turn"),
        ("--trace", "t.jsonl", "trace"),
    ],
)
def test_a_kind_flag_for_another_workload_is_refused_rather_than_ignored(capsys, flag, value, kind):
    code, out, err = in_process(capsys, flag, value)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"tokencost: error: {flag}: sets the {kind} workload, and this run's workload is "
        f"random; add --workload {kind}, or leave {flag} out"
    ]
