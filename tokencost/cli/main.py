"""`tokencost`: parse the command line, run the command, and turn a user's mistake into one line and exit 2.

Anything else is a bug of ours: its traceback is shown (secrets masked) under a line that says so, exit 3.
"""

import sys
import traceback

from bench import console
from bench.errors import UserError
from bench.secrets import redact
from tokencost.cli import completion, measure, presets, price, publish
from tokencost.cli.args import build_parser
from tokencost.cli.json_output import stdout_for_json

COMMANDS = {
    "run": measure.cmd_run,
    "doctor": measure.cmd_doctor,
    "models": measure.cmd_models,
    "price": price.cmd_price,
    "quote": price.cmd_quote,
    "project": price.cmd_project,
    "claims": price.cmd_claims,
    "presets": presets.cmd_presets,
    "tiers": measure.cmd_tiers,
    "report": publish.cmd_report,
    "index": publish.cmd_index,
    "gpu-table": publish.cmd_gpu_table,
    "compare": publish.cmd_compare,
    "completion": completion.cmd_completion,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)  # no command: what there is to run, and exit 2 as for any missing argument
        return 2
    args = parser.parse_args(argv)
    try:
        with console.shown(), stdout_for_json(getattr(args, "json", False)):
            return COMMANDS[args.command](args)
    except UserError as e:
        print(f"tokencost: error: {redact(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:  # a path that went away or turned unwritable after the options were checked
        where = e.filename or "a file"
        print(f"tokencost: error: {where}: {e.strerror or e}; check the path and its permissions", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokencost: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - no input of a user's should get here
        print(redact("".join(traceback.format_exception(e))).rstrip(), file=sys.stderr)
        print(
            f"tokencost: internal error ({type(e).__name__}): this is a bug in tokencost, not a problem with "
            "your input; please report it with the traceback above",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
