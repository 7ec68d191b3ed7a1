"""`tokencost completion SHELL`: a completion script generated from the parser (shtab), that bash runs."""

import shutil
import subprocess

import pytest

from tests.support.cli import tokencost


def _complete(script, words: list[str], tmp_path) -> list[str]:
    """What bash offers for the last of `words`, with the script sourced (as a completion file would be)."""
    path = tmp_path / "tokencost.bash"
    path.write_text(script)
    cword = len(words) - 1
    line = " ".join(words)
    shell = (
        f"source {path}; COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={cword}; "
        f"COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; _shtab_tokencost; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True, cwd=tmp_path)
    return out.stdout.split()


@pytest.fixture(scope="module")
def bash_script():
    if shutil.which("bash") is None:
        pytest.skip("no bash on this machine")
    result = tokencost("completion", "bash")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bash_completes_commands_and_their_options(bash_script, tmp_path):
    assert _complete(bash_script, ["tokencost", "pr"], tmp_path) == ["price", "project", "presets"]
    assert _complete(bash_script, ["tokencost", "project", "--ba"], tmp_path) == ["--batch-sizes"]
    assert "--benchmark-json" in _complete(bash_script, ["tokencost", "compare", "--"], tmp_path)
    assert _complete(bash_script, ["tokencost", "completion", "z"], tmp_path) == ["zsh"]


def test_bash_completes_folders_where_a_folder_is_wanted(bash_script, tmp_path):
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-notes.txt").write_text("")
    assert _complete(bash_script, ["tokencost", "report", "run"], tmp_path) == ["run-1"]
    assert sorted(_complete(bash_script, ["tokencost", "price", "run"], tmp_path)) == ["run-1", "run-notes.txt"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_their_script_naming_every_command(shell):
    result = tokencost("completion", shell)
    assert result.returncode == 0, result.stderr
    for command in ("run", "quote", "gpu-table", "completion"):
        assert command in result.stdout
    assert result.stdout.startswith("#compdef tokencost") == (shell == "zsh")
