"""`tokencost presets [NAME]`: the economic presets, or one preset's every assumption with its value and source."""

import argparse
import json
import textwrap
from typing import Any

from tokencost.cli import json_output

INDENT = "    "  # a source, under its assumption; URLs and names are not broken at their hyphens


def cmd_presets(args: argparse.Namespace) -> int:
    from bench.errors import UserError
    from tokencost.pricing.assumptions import load_assumptions, preset_names, preset_settings

    names = preset_names()
    if args.name is not None and args.name not in names:
        raise UserError("NAME", f"{args.name!r} is not a preset", f"use one of: {', '.join(names)}")
    chosen = [args.name] if args.name else names
    presets = [(load_assumptions(name), preset_settings(name)) for name in chosen]
    if args.json:
        json_output.emit(
            "presets",
            presets=[
                {"name": a.name, "ownership": a.ownership, "description": a.description, "hash": a.hash}
                | {"assumptions": settings}
                for a, settings in presets
            ],
        )
    elif args.name is None:
        for a, _ in presets:
            print(f"{a.name:<24} {a.ownership:<7} {a.description}")
        print("Each preset's values and sources: tokencost presets NAME")
    else:
        (a, settings), *_ = presets
        print(f"{a.name} ({a.ownership}; hash {a.hash}): {a.description}")
        for setting in settings:
            print(f"{setting['key']} = {toml_value(setting['value'])}")
            source = setting["source"] or "no source given"
            if setting["set_by"] != a.name:
                source = f"from preset '{setting['set_by']}': {source}"
            print(textwrap.fill(source, 120, initial_indent=INDENT, subsequent_indent=INDENT, break_on_hyphens=False))
    return 0


def toml_value(value: Any) -> str:
    """A value as `--set KEY=VALUE` and an --assumptions file take it (TOML), e.g. 4, 0.08, "gpu", { h200 = 1.22 }."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
