"""`tokencost completion SHELL`: a completion script for bash, zsh or tcsh, generated from the parser by shtab."""

import argparse
from pathlib import Path

from tokencost.cli.args import build_parser, output_dir, output_file

FOLDERS = ("RUN_DIR", "RESULTS_DIR", "DIR")  # metavars of arguments that name a folder


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    parser = build_parser()
    _complete_paths(parser, shtab.FILE, shtab.DIRECTORY)
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _complete_paths(parser: argparse.ArgumentParser, file: dict, directory: dict) -> None:
    """Mark each option that takes a path, in every command, to complete file names (folders: directory
    names), as shtab reads an argument's `complete` attribute."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _complete_paths(command, file, directory)
        elif action.type is output_dir or action.metavar in FOLDERS:
            action.complete = directory  # type: ignore[attr-defined]
        elif action.type in (Path, output_file):
            action.complete = file  # type: ignore[attr-defined]
