"""`tokencost`: parse the command line, run the command, and turn a user's mistake into one line and exit 2."""

import sys

from bench.errors import UserError
from tokencost.cli import measure, price, publish
from tokencost.cli.args import build_parser

COMMANDS = {
    "run": measure.cmd_run, "doctor": measure.cmd_doctor, "models": measure.cmd_models,
    "price": price.cmd_price, "quote": price.cmd_quote, "project": price.cmd_project, "claims": price.cmd_claims,
    "presets": price.cmd_presets,
    "report": publish.cmd_report, "index": publish.cmd_index, "compare": publish.cmd_compare,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"tokencost: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path that went away or turned unwritable after the options were checked
        where = e.filename or "a file"
        print(f"tokencost: error: {where}: {e.strerror or e}; check the path and its permissions", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokencost: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
