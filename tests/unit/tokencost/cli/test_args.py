"""The parser's help: every default it states is the default the command uses, the exit codes are in the top-level
help, and a bare `tokencost` prints that help."""

import argparse
import re

import pytest

from bench.inputs.suite import SUITE_OPTIONS, load_suite
from tests.conftest import CPU_DEMO
from tests.support.cli import tokencost
from tests.support.records_factory import point_record, write_run
from tokencost.cli import main as cli
from tokencost.cli.args import _shown, build_parser

# A number (or list of them) stated as a default; one stated for a suite file (where `run` reads the file's
# setting, or the field's default) is not the parser's.
STATED = re.compile(r"\bdefault:? ([0-9][0-9.,]*%?)(?![0-9.,%]| in a suite file)")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _default(command: str, action: argparse.Action):
    """What the command uses when the option is not given, where the parser knows it: argparse's default, or for
    `run`'s suite flags the embedded demo suite's setting."""
    if action.default not in (None, [], False, argparse.SUPPRESS):
        return action.default
    option = next((o for o in SUITE_OPTIONS if command == "run" and o.flag.dest == action.dest), None)
    if option is None:
        return None
    value = load_suite()
    for name in option.path.split("."):
        value = getattr(value, name)
    return None if value in (None, ()) else value


def _options():
    for command, parser in _commands().items():
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)):
                yield pytest.param(command, action, id=f"{command} {'/'.join(action.option_strings) or action.dest}")


@pytest.mark.parametrize(("command", "action"), list(_options()))
def test_help_states_each_default_the_parser_has_and_no_other(command, action):
    help_text = " ".join((action.help or "").replace("%%", "%").split())
    default = _default(command, action)
    if default is not None:
        shown = _shown(tuple(default) if isinstance(default, list) else default)
        assert f"default {shown}" in help_text or f"default: {shown}" in help_text, help_text
    for stated in STATED.findall(help_text):
        assert default is not None and stated.rstrip(".,") == _shown(
            tuple(default) if isinstance(default, list) else default
        ), f"help states default {stated}; the parser's is {default!r}"


def test_project_help_states_the_calibrated_efficiency_not_a_bare_ceiling():
    project = _commands()["project"]
    help_text = " ".join(project.format_help().split())
    assert "default: 1.0" not in help_text
    assert "the efficiency fitted on published vLLM measurements of this GPU" in help_text


def test_the_top_level_help_lists_the_exit_codes():
    help_text = build_parser().format_help()
    listed = re.findall(r"^  (\d+) ", help_text.split("exit codes:")[1], flags=re.MULTILINE)
    assert listed == ["0", "1", "2", "3", "130"]


def _raises(error: BaseException):
    def command(args):
        raise error

    return command


def test_each_listed_exit_code_is_the_one_main_returns(monkeypatch, tmp_path):
    assert tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "1000").returncode == 0
    slower = write_run(tmp_path / "slower", point_record(batch=1, output_tok_s=50.0))
    assert tokencost("compare", write_run(tmp_path / "base", point_record(batch=1)), slower).returncode == 1
    assert tokencost("compare", CPU_DEMO, tmp_path / "missing").returncode == 2
    assert tokencost("quote", "--gpu", "h100-sxm", "--tok-s", "-1").returncode == 2
    monkeypatch.setitem(cli.COMMANDS, "tiers", _raises(ValueError("a bug")))
    assert tokencost("tiers").returncode == 3
    monkeypatch.setitem(cli.COMMANDS, "tiers", _raises(KeyboardInterrupt()))
    interrupted = tokencost("tiers")
    assert interrupted.returncode == 130 and interrupted.stderr == "tokencost: interrupted\n"


def test_a_bare_tokencost_prints_the_help_and_exits_2():
    result = tokencost()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: tokencost") and "exit codes:" in result.stderr
    assert "{run,report,price,quote,project," in result.stderr
