"""The command line's parser: every command's options, with argparse types that check values as they are read.

A bad value ends as one line, `tokencost: error: --flag: what is wrong; the fix`, with exit code 2,
before anything is measured.
"""

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.inputs.flags import Option

DEFAULT_RESULTS_DIR = Path("results") / "runs"

# Caps on what the pricing commands are told, far above any real deployment: a typo (an extra digit, an
# exponent) is refused in one line instead of printing a price of 0 or inf. (The `run` command's suite
# settings are capped by the suite's own fields, bench.inputs.suite and bench.inputs.workload.)
MAX_GPUS = 65_536  # GPUs of one deployment
MAX_TOK_S = 1e10  # tokens per second of a whole deployment
MAX_WATTS_PER_GPU = 5_000.0  # measured power of one GPU with its share of the server
MAX_WATTS_PER_VCPU = 1_000.0  # the estimated meter's power per vCPU
# bench.inputs.precision's formats, spelled here so that the parser does not import pydantic models.
WEIGHT_FORMATS = ("bf16", "fp8", "fp4", "int4")
KV_FORMATS = ("bf16", "fp8")


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as one line naming the option and the fix (no usage block), exit code 2."""

    def error(self, message: str):
        message = message.removeprefix("argument ")
        if "; " not in message:  # argparse's own words (a required or unknown flag, a choice) name no fix
            message += f"; see `{self.prog} --help`"
        sys.stderr.write(f"tokencost: error: {message}\n")
        sys.exit(2)


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number, e.g. 128" if kind is int else "a number, e.g. 2.5"
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give a finite number")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"is {value}; give a positive integer")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"is {value:g}; give a positive number")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"is {value:g}; give 0 or a positive number")
    return value


def _at_most(parse, cap: float):
    """`parse`, refusing values above `cap`."""

    def bounded(text: str):
        value = parse(text)
        if value > cap:
            shown = value if isinstance(value, int) else f"{value:g}"
            raise argparse.ArgumentTypeError(f"is {shown}, above the cap of {cap:g}; give at most {cap:g}")
        return value

    bounded.__name__ = parse.__name__  # argparse names the type in some of its messages
    return bounded


gpu_count = _at_most(positive_int, MAX_GPUS)
tokens_per_s = _at_most(positive_float, MAX_TOK_S)
watts_per_vcpu = _at_most(positive_float, MAX_WATTS_PER_VCPU)
watts_of_all_gpus = _at_most(positive_float, MAX_GPUS * MAX_WATTS_PER_GPU)  # per GPU: checked by the command


def share(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"is {value:g}; give a share between 0 and 1")
    return value


def open_share(text: str) -> float:
    """A share strictly between 0 and 1: both sides must have something to divide by."""
    value = share(text)
    if value in (0, 1):
        raise argparse.ArgumentTypeError(
            f"is {value:g}, which leaves no {'input' if value == 0 else 'output'} "
            "tokens to price; give a share above 0 and below 1"
        )
    return value


def _items(text: str) -> list[str]:
    """Comma-separated items; an empty one between commas ("1,,4") is refused as a likely typo."""
    items = [v.strip() for v in text.split(",")]
    if items and not items[-1]:
        items.pop()  # a trailing comma is harmless
    if any(not v for v in items):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty item; separate the values with single commas")
    return items


def int_list(text: str) -> list[int]:
    items = _items(text)
    try:
        return [positive_int(v) for v in items] or _empty(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers; give positive integers, e.g. 1,4,16"
        ) from None


def float_list(text: str) -> list[float]:
    items = _items(text)
    try:
        return [positive_float(v) for v in items] or _empty(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of numbers; give positive numbers, e.g. 0.5,2,8"
        ) from None


def name_list(text: str) -> list[str]:
    return _items(text) or _empty(text)


def _empty(text: str):
    raise argparse.ArgumentTypeError(f"{text!r} names nothing; give comma-separated names")


def _writable_ancestor(path: Path) -> None:
    """Refuse a path whose nearest existing ancestor is not a directory this user can write."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {ancestor} is not a directory; give another path")
    if not os.access(ancestor, os.W_OK) or not _can_create_in(ancestor):
        raise argparse.ArgumentTypeError(f"{path}: {ancestor} is not writable; give another path")


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be made in `folder`: os.access says yes to root for /proc and read-only mounts."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def output_file(text: str) -> Path:
    """A file to write (missing parent folders are created)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; give a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{path} is not writable; give another path")
    _writable_ancestor(path)
    return path


def output_dir(text: str) -> Path:
    """A directory to write into (created if missing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file; give a directory")
    if path.is_dir() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{path} is not writable; give another directory")
    _writable_ancestor(path)
    return path


def threshold(text: str) -> float:
    """'5%' or '0.05' -> 0.05."""
    value = text.strip()
    percent = value.endswith("%")
    try:
        number = float(value.rstrip("%").strip())
    except ValueError:
        number = float("nan")
    fraction = number / 100 if percent else number
    if not 0 <= fraction < float("inf") or (not percent and fraction >= 1):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a threshold; give a percentage such as 5% or a fraction below 1 such as 0.05"
        )
    return fraction


def _pricing_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pricing")
    group.add_argument("--preset", help="economic preset (see `tokencost presets`; default: owned)")
    group.add_argument("--assumptions", type=Path, help="TOML file overriding any assumption of the preset")
    group.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one assumption, e.g. --set usd_per_kwh=0.12 (repeatable)",
    )
    group.add_argument("--api", help="API to compare with (default: the preset's, gpt-4o-mini)")
    group.add_argument("--hardware", type=Path, help="TOML file with figures for hardware the catalog lacks")
    _assumption_flags(group)


def _assumption_flags(group: argparse._ArgumentGroup) -> None:
    """The flags that each set one assumption, as --set does (tokencost.pricing.assumptions.FLAGS): recorded in
    the assumptions' name, and refused where the preset does not read them."""
    helps = {
        "--usd-per-gpu-hour": "your price per GPU-hour, for every GPU, in place of the preset's rate; "
        "it rents the hardware (power and hosting are in the rate), owned presets included",
        "--usd-per-kwh": "electricity price, owned hardware (default: the preset's, e.g. owned 0.08)",
        "--utilization": "share of the hours spent serving, in (0, 1] (default: the preset's, e.g. owned 1)",
        "--years": "useful life of owned hardware, in (0, 50] years (default: the preset's, e.g. owned 4)",
    }
    for flag, text in helps.items():
        group.add_argument(flag, type=finite_float, metavar="X", help=text)


def finite_float(text: str) -> float:
    """Any finite number: the range is the assumption's own, checked where the flag is applied."""
    value: float = _number(text, float)
    return value


def _json_option(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"print one JSON document (schema tokencost.{command}/1, see docs/commands.md) on stdout instead of the "
        "text; log lines go to stderr",
    )


class _Version(argparse.Action):
    """--version: worked out when asked for (it may ask git), not each time the parser is built."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from tokencost.cli.version import version_line

        print(version_line())
        parser.exit()


EXIT_CODES = """exit codes:
  0    done
  1    done, with a failure to report: a point that did not complete, or would be skipped (run, run --dry-run);
       a regression, or a baseline point missing with --require-all (compare); a broken model card
       (models); a requirement not met (doctor --require-gpu); a file that must not be published (index);
       nothing that fits, with the fewest GPUs that would (project)
  2    bad input (a flag, a file, a setting; one line says which and the fix), or an engine that cannot
       start; a bare `tokencost` prints this help and exits 2
  3    internal error: a bug in tokencost (its traceback is shown)
  130  interrupted (Ctrl-C or SIGTERM); a run keeps the points it completed"""


def _output_options(parser: argparse.ArgumentParser, out_help: str, in_place_help: str) -> None:
    """Where a command that rebuilds files writes them: a new folder unless told (-o DIR, or --in-place)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--out", type=output_dir, help=out_help)
    where.add_argument("--in-place", action="store_true", help=in_place_help)


def _wide_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wide",
        action="store_true",
        help="print every column of the cost tables (default: a compact set that fits 120 columns)",
    )


def _suite_options(parser: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    """An option for each suite setting that declares a flag (bench.inputs.flags), its type, bounds, default
    and help all read from the setting's field; returns the `--help` sections made on the way, by title."""
    from bench.inputs.suite import SUITE_OPTIONS, load_suite

    demo = load_suite(None)  # what `run` measures without --suite
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in SUITE_OPTIONS:
        flag = option.flag
        where = parser if flag.group is None else groups.setdefault(flag.group, parser.add_argument_group(flag.group))
        where.add_argument(
            flag.name,
            type=_value_type(option),
            choices=None if option.many else option.choices,
            metavar=flag.metavar,
            help=_help(option, demo),
        )
    return groups


def _value_type(option: "Option") -> Callable[[str], Any]:
    """The argparse type that reads the setting's value(s): the field's bounds are checked once the suite is
    built, and named by the flag (bench.inputs.suite.with_flags)."""
    if option.many:
        return {int: int_list, float: float_list, str: name_list}[option.kind]
    if option.kind is int:
        return positive_int
    if option.kind is float:
        return non_negative_float if option.inclusive and option.minimum == 0 else positive_float
    return str


def _help(option: "Option", demo_suite: object) -> str:
    """The flag's help, with the setting's cap and default as its field states them."""
    notes = []
    if option.maximum is not None:
        notes.append(f"{'each ' if option.many else ''}at most {_shown(option.maximum)}")
    demo = _demo_setting(option, demo_suite)
    if demo not in (None, (), option.default):
        notes.append(f"default {_shown(option.default)} in a suite file, default {_shown(demo)} in the embedded demo")
    elif option.default not in (None, ()):
        notes.append(f"default {_shown(option.default)}")
    text = f"{option.flag.help} ({'; '.join(notes)})" if notes else option.flag.help
    return text.replace("%", "%%")  # argparse formats help with %


def _demo_setting(option: "Option", demo_suite: object) -> object:
    """The option's setting in the embedded demo suite."""
    value = demo_suite
    for name in option.path.split("."):
        value = getattr(value, name, None)  # None: not a setting of the suite
    return value


def _shown(value: object) -> str:
    """A value as it is typed on the command line: 65536 rather than 65536.0, lists comma-separated."""
    if isinstance(value, tuple):
        return ",".join(_shown(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cluster_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        help="fan the suite out over this Ray cluster: one task per model (and accelerator type), "
        "records into one run directory; also where [engine] executor = 'ray' spans nodes",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="tokencost",
        description="Measure what an LLM token costs to produce, and price it.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_Version, help="print the version and the git commit (of a checkout) and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="measure a sweep with vLLM, then price and report it")
    run.add_argument("--suite", type=Path, help="suite TOML file (default: the embedded CPU demo suite)")
    suite_groups = _suite_options(run)
    run.add_argument("--out", type=output_dir, help=f"run directory (default: {DEFAULT_RESULTS_DIR}/<run-id>)")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="finish the missing points of an interrupted run, with its settings",
    )
    run.add_argument(
        "--watts-per-vcpu",
        type=watts_per_vcpu,
        help=f"CPU power per vCPU for the estimated meter (at most {MAX_WATTS_PER_VCPU:g})",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the GPUs and points the run would use and whether each fits; start nothing",
    )
    run.add_argument(
        "--gpu-memory-gib",
        type=positive_float,
        help="with --dry-run: each GPU's memory, to check fit for a host other than this one (e.g. 79.6)",
    )
    run.add_argument(
        "--gpu",
        help="with --dry-run: plan for this GPU (catalog key or name, e.g. h100-sxm): its memory (unless "
        "--gpu-memory-gib) and the precisions it runs",
    )
    _wide_option(run)
    from bench.inputs.suite import FLEET

    _cluster_options(suite_groups[FLEET])
    _pricing_options(run)

    report = commands.add_parser("report", help="price measured runs; write their tables, plots and web page")
    report.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    _output_options(
        report,
        f"output directory (default: a new folder, {DEFAULT_RESULTS_DIR}/<run>-report-<preset>-<time>)",
        "write into the run directory itself, replacing the report `run` wrote there (one RUN_DIR)",
    )
    _wide_option(report)
    _pricing_options(report)

    price = commands.add_parser("price", help="re-price a measured run without re-measuring; print the table")
    price.add_argument(
        "source",
        type=Path,
        metavar="RUN_DIR_OR_JSON",
        help="a run directory, its records.jsonl, or a JSON result file of `vllm bench serve "
        "--save-result`, AIPerf (profile_export_aiperf.json) or GuideLLM (benchmarks.json), or published results: "
        "InferenceX's agg_bmk.json, MLPerf Inference's summary_results.json",
    )
    price.add_argument("--csv", type=output_file, help="also write the priced table to this CSV file")
    _json_option(price, "price")
    price.add_argument(
        "--gpu",
        help="for a tool's result file: the GPU that served it (catalog key, e.g. h100-sxm); for published results: "
        "price only the rows of this GPU",
    )
    price.add_argument(
        "--gpus",
        type=gpu_count,
        help="for a tool's result file: GPUs serving (1 unless given; published results count theirs)",
    )
    price.add_argument(
        "--watts",
        type=watts_of_all_gpus,
        help="for a result file: measured power of all GPUs "
        f"(default: TDP, estimated; at most {MAX_WATTS_PER_GPU:g} W a GPU)",
    )
    _wide_option(price)
    _pricing_options(price)

    quote = commands.add_parser("quote", help="price one throughput figure, e.g. a number from a paper")
    quote.add_argument("--gpu", required=True, help="catalog key or GPU name, e.g. h100-sxm or 'NVIDIA H200'")
    basis = quote.add_argument_group("token basis (give exactly one)").add_mutually_exclusive_group(required=True)
    basis.add_argument(
        "--output-tok-s",
        type=tokens_per_s,
        metavar="N",
        help="output tokens per second of the whole deployment, e.g. vLLM's 'Output token throughput': "
        f"J/token and $/M are then per output token (at most {MAX_TOK_S:g})",
    )
    basis.add_argument(
        "--total-tok-s",
        type=tokens_per_s,
        metavar="N",
        help="input + output tokens per second of the whole deployment, e.g. vLLM's 'Total token throughput', "
        f"split by --input-tokens-share (at most {MAX_TOK_S:g})",
    )
    # its own option, not a second name of --total-tok-s, so that an error names the flag as typed
    basis.add_argument(
        "--tok-s", dest="total_tok_s", type=tokens_per_s, metavar="N", help="alias of --total-tok-s, kept for scripts"
    )
    quote.add_argument("--gpus", type=gpu_count, default=1, help=f"GPUs serving (default 1, at most {MAX_GPUS})")
    quote.add_argument(
        "--watts",
        type=watts_of_all_gpus,
        help=f"measured power of all GPUs (default: TDP x GPUs, estimated; at most {MAX_WATTS_PER_GPU:g} W a GPU)",
    )
    _json_option(quote, "quote")
    quote.add_argument(
        "--input-share", type=share, help="share of time spent on input (prefill), to split input and output $/M"
    )
    quote.add_argument(
        "--input-tokens-share",
        type=open_share,
        default=0.5,
        help="share of the tokens that are input: splits --total-tok-s, and sets the token mix the API is "
        "priced at (above 0, below 1; default 0.5)",
    )
    _pricing_options(quote)

    project = commands.add_parser(
        "project",
        help="project tok/s and $/M on hardware you do not have (labelled projected); exit 1 when nothing fits, "
        "naming the fewest GPUs that would",
    )
    project.add_argument(
        "--model",
        required=True,
        help="a card of models/ (e.g. qwen3-30b-a3b), a card folder, or a Hugging Face id (org/name: its config.json, "
        "from the local cache or fetched once)",
    )
    project.add_argument("--gpu", required=True, help="catalog key or GPU name, e.g. h200")
    project.add_argument("--gpus", type=gpu_count, default=1, help="GPUs serving the model (default 1)")
    project.add_argument(
        "--batch-sizes", type=int_list, default=[1, 8, 32, 128], help="batch sizes to project (default 1,8,32,128)"
    )
    project.add_argument("--isl", type=positive_int, default=1024, help="input tokens per request (default 1024)")
    project.add_argument("--osl", type=positive_int, default=1024, help="output tokens per request (default 1024)")
    project.add_argument(
        "--efficiency",
        help="a GPU run directory to take the measured efficiency from, or a fraction in (0, 1] of the roofline "
        "(default: the efficiency fitted on published vLLM measurements of this GPU, or of the nearest "
        "calibrated one, with its held-out error band)",
    )
    project.add_argument(
        "--precision",
        choices=WEIGHT_FORMATS,
        default="bf16",
        help="the weights' format (default bf16); anything but bf16 is projected with the BF16 calibration, "
        "labelled uncalibrated, with a wider band",
    )
    project.add_argument(
        "--kv-cache-dtype", choices=KV_FORMATS, default="bf16", help="the KV cache's format (default bf16)"
    )
    project.add_argument("--csv", type=output_file, help="also write the table to this CSV file")
    _json_option(project, "project")
    _pricing_options(project)

    claims = commands.add_parser("claims", help="check common claims about token costs against measured runs")
    claims.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    claims.add_argument("-o", "--out", type=output_dir, help="also write claims.md into this directory")
    _json_option(claims, "claims")
    _pricing_options(claims)

    index = commands.add_parser("index", help="rewrite the README of the published runs and check their sizes")
    index.add_argument(
        "results_dir",
        type=Path,
        nargs="?",
        default=Path("results"),
        metavar="RESULTS_DIR",
        help="folder of published runs (default: results)",
    )
    _pricing_options(index)

    gpu_table = commands.add_parser(
        "gpu-table",
        help="rebuild the published GPU cost table (projected, and "
        "others' measurements priced alike) from its committed inputs, with its cost explorer (index.html)",
    )
    gpu_table.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=Path("results/gpu-cost-table"),
        metavar="DIR",
        help="folder holding the table's inputs.toml (default: results/gpu-cost-table)",
    )
    _output_options(
        gpu_table,
        f"output directory (default: a new folder, {DEFAULT_RESULTS_DIR}/gpu-table-<time>)",
        "rewrite the table in DIR itself (the published one by default)",
    )

    compare = commands.add_parser(
        "compare", help="CI gate: fail (exit 1) when NEW costs more or runs slower than BASELINE"
    )
    compare.add_argument(
        "baseline",
        type=Path,
        metavar="BASELINE",
        help="a run directory, a directory of runs (repeats), a records.jsonl or a costs.csv",
    )
    compare.add_argument("new", type=Path, metavar="NEW", help="the same, for the run to check")
    compare.add_argument(
        "--max-regression",
        type=threshold,
        default="5%",
        help="allowed rise in $/M input+output tokens or fall in output tok/s, e.g. 5%% or 0.05 (default 5%%); "
        "points measured several times get at least their noise band",
    )
    compare.add_argument(
        "--require-all", action="store_true", help="also fail when a baseline point is missing from NEW"
    )
    compare.add_argument(
        "--benchmark-json",
        type=output_file,
        metavar="PATH",
        help="also write NEW's points as pytest-benchmark JSON (readable by `pytest-benchmark compare`)",
    )
    _json_option(compare, "compare")
    _pricing_options(compare)

    models_help = (
        "list the model cards with their parameter counts; a card that cannot load is listed as "
        "BROKEN with why, and the exit status is then 1"
    )
    models = commands.add_parser("models", help=models_help, description=models_help)
    _json_option(models, "models")
    presets = commands.add_parser("presets", help="list the economic presets, or show one's values and sources")
    presets.add_argument(
        "name", nargs="?", metavar="NAME", help="a preset: print each of its assumptions with its value and source"
    )
    _json_option(presets, "presets")
    tiers = commands.add_parser("tiers", help="list the service-level tiers serving points are checked against")
    _json_option(tiers, "tiers")
    doctor = commands.add_parser(
        "doctor",
        help="what this machine can measure, whether a GPU run can start here, and the energy method a run would use",
    )
    doctor.add_argument(
        "--suite",
        type=Path,
        help="suite TOML whose [engine] parallelism (tensor x pipeline x data) "
        "sets how many GPUs the engine uses (without one: 1 GPU)",
    )
    doctor.add_argument(
        "--require-gpu", action="store_true", help="exit 1, naming each one, when a requirement of a GPU run is not met"
    )
    _json_option(doctor, "doctor")
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script generated from these options, e.g. `tokencost completion bash`",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"), help="the shell to complete in")
    return parser
