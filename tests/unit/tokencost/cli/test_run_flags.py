"""The `run` command's suite flags are read from the suite's fields: each flag's type, cap, default and help come
from its field, and a value out of the field's bounds is named by the flag as typed (exit 2, nothing started)."""

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from bench.errors import UserError
from bench.inputs.flags import Flag, options
from bench.inputs.suite import SUITE_OPTIONS
from tokencost.cli import args
from tokencost.cli.main import main


def run_help() -> str:
    run = args.build_parser()._subparsers._group_actions[0].choices["run"]
    return " ".join(run.format_help().split())


def test_every_suite_flag_states_its_fields_cap_and_default():
    text = run_help()
    assert len(SUITE_OPTIONS) == 24
    for option in SUITE_OPTIONS:
        assert option.flag.name in text
        if option.maximum is not None:
            assert f"at most {args._shown(option.maximum)}" in text, option.path
        if option.default not in (None, ()):
            assert f"default {args._shown(option.default)}" in text, option.path


class Toy(BaseModel):
    count: Annotated[int, Field(gt=0, le=7), Flag("--count", "how many")] = 3
    sizes: Annotated[tuple[Annotated[int, Field(gt=0, le=9)], ...], Flag("--sizes", "sizes")] = (1, 2)
    ratio: Annotated[float | None, Field(ge=0, le=0.5), Flag("--ratio", "a share")] = None


def test_the_help_follows_the_fields_bounds():
    found = {o.flag.name: o for o in options(Toy)}
    assert args._help(found["--count"], Toy()) == "how many (at most 7; default 3)"
    assert args._help(found["--sizes"], Toy()) == "sizes (each at most 9; default 1,2)"
    assert args._help(found["--ratio"], Toy()) == "a share (at most 0.5)"
    assert args._value_type(found["--sizes"]) is args.int_list
    assert args._value_type(found["--ratio"]) is args.non_negative_float


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--batch-sizes", "1,70000"], "tokencost: error: --batch-sizes: is 70000; "),
        (["--concurrency", "70000"], "tokencost: error: --concurrency: is 70000; "),
        (["--slo-ttft-ms", "4000000"], "tokencost: error: --slo-ttft-ms: is 4000000.0; "),
        (["--min-window-s", "5000"], "tokencost: error: --min-window-s: is 5000.0; "),
        (["--accelerators", "H 100", "--ray-address", "h:1"], "tokencost: error: --accelerators: is 'H 100'; "),
    ],
)
def test_a_value_out_of_its_fields_bounds_is_named_by_its_flag(capsys, tmp_path, monkeypatch, argv, line):
    monkeypatch.chdir(tmp_path)
    assert main(["run", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(line) and "(suite setting " in err and err.count("\n") == 1
    assert not (tmp_path / "results").exists()


def test_a_kind_flag_for_another_kind_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--turns", "3"]) == 2
    assert capsys.readouterr().err == (
        "tokencost: error: --turns: sets the multi-turn workload, and this run's workload is random; "
        "add --workload multi-turn, or leave --turns out\n"
    )


def test_a_user_error_keeps_its_parts():
    error = UserError("batch_sizes.0", "is 0", "give a positive integer")
    assert (error.field, error.problem, error.fix) == ("batch_sizes.0", "is 0", "give a positive integer")
    moved = error.with_field("--batch-sizes", "give 1 or more")
    assert str(moved) == "--batch-sizes: is 0; give 1 or more"
    assert str(error.with_field("--x")) == "--x: is 0; give a positive integer"
