"""Which columns of a priced table are shown, under which headers and in which format, in reports and on the
terminal.

Two views of a priced table: every column (OFFLINE_HEADERS, SERVING_HEADERS: `--wide`, and the full table
folded under a report's main table), and a compact one (OFFLINE_COMPACT, SERVING_COMPACT: the default) that
fits 120 terminal columns or a laptop screen. In the compact view a context column whose value is the same in
every row (hardware, engine, workload, boundary, checks, method) is stated once under the table instead of in
each row, the method labels are cited by number ([1]), and workloads go by short names told in full under the
table. costs.csv and costs.json always hold every column.

Serving points measured several times are shown once (tokencost.pricing.serving.median_of_repeats): the
median of their measurements with `n`, the compact view's spread of $/M, and every column's min–max in the
full view. Points checked against service-level tiers show the tiers they kept in one column ("tiers met").
"""

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from tabulate import tabulate

from tokencost.pricing.checks import failed_names
from tokencost.pricing.serving import SPREAD_COLUMNS, describe_limits, implied_by, median_of_repeats
from tokencost.publish.document import Methods, number

CONSOLE_WIDTH = 120  # the default view's lines fit a terminal this wide

OFFLINE_HEADERS = {
    "hardware": "hardware",
    "engine": "engine",
    "precision": "precision",
    "model": "model",
    "kind": "kind",
    "batch_size": "batch",
    "workload_label": "workload",
    "prefix_hit_rate": "prefix-cache hit rate",
    "implied_hit_rate": "implied hit rate",
    "output_tok_s": "output tok/s",
    "avg_power_w": "W",
    "roofline_fraction": "of roofline",
    "j_per_output_token": "J/output token",
    "steady_j_per_output_token": "steady-state J/output token",
    "power_boundary": "power boundary",
    "power_w_boundary": "W at boundary",
    "j_per_output_token_boundary": "J/output token at boundary",
    "tok_s_per_mw": "input+output tok/s per MW",
    "total_per_mtok_usd": "$/M input+output",
    "input_per_mtok_usd": "$/M input",
    "uncached_input_per_mtok_usd": "$/M uncached input",
    "cached_input_per_mtok_usd": "$/M cached input",
    "output_per_mtok_usd": "$/M output",
    "split_method": "input/output split",
    "cost_split": "capital / energy / hosting / rental",
    "cost_vs_api": "x API",
    "checks": "validity checks",
    "label": "method",
}

SERVING_HEADERS = {
    "engine": "engine",
    "precision": "precision",
    "model": "model",
    "kind": "kind",
    "load": "load",
    "n": "n",
    "workload_label": "workload",
    "prefix_hit_rate": "prefix-cache hit rate",
    "implied_hit_rate": "implied hit rate",
    "output_tok_s": "output tok/s",
    "output_tok_s_per_gpu": "output tok/s per GPU",
    "ttft_p50_ms": "TTFT p50 ms",
    "ttft_p90_ms": "TTFT p90 ms",
    "ttft_p99_ms": "TTFT p99 ms",
    "tpot_p50_ms": "TPOT p50 ms",
    "tpot_p90_ms": "TPOT p90 ms",
    "interactivity": "output tok/s/user",
    "goodput_share": "within SLO",
    "goodput_rps": "goodput req/s",
    "tiers_met": "tiers met",
    "avg_power_w": "W",
    "j_per_output_token": "J/output token",
    "power_boundary": "power boundary",
    "power_w_boundary": "W at boundary",
    "j_per_output_token_boundary": "J/output token at boundary",
    "tok_s_per_mw": "input+output tok/s per MW",
    "total_per_mtok_usd": "$/M input+output",
    "on_cost_front": "on front",
    "checks": "validity checks",
    "label": "method",
}
# Columns a pricing change adds: shown where the priced table has them, left out (not blank) where it has not.
OPTIONAL = {"power_boundary", "power_w_boundary", "j_per_output_token_boundary", "tok_s_per_mw"}
# Columns of serving records measured with repeats or checked against tiers (those with a `point` column): shown
# only in their tables, so that a table of other records reads as it did.
EXTENDED = {"n", "ttft_p90_ms", "tpot_p90_ms", "goodput_rps", "tiers_met"}
RANGE = "min–max"  # the full view's header of a repeated point's range of a number, after the number's header
# Columns that only some records give (the weights' precision of imported published results): shown only where
# some row has a value, so that a table of other records reads as it did.
WHERE_GIVEN = {"precision"}
# Columns of workloads with reuse: shown only where some point's workload is not random.
REUSE = {"prefix_hit_rate", "implied_hit_rate", "uncached_input_per_mtok_usd", "cached_input_per_mtok_usd"}
# The compact view's short names of workload kinds (a number added where one kind has several labels).
SHORT_KINDS = {
    "random": "random",
    "shared-prefix": "prefix",
    "multi-turn": "turns",
    "trace": "trace",
    "lengths": "lengths",
}


def text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def whole(value) -> str:
    return "" if pd.isna(value) else f"{int(value)}"


def percent(value) -> str:
    return "" if pd.isna(value) else f"{number(100 * value, 3)}%"


def checks(value) -> str:
    """'ok', or how many validity checks failed ('failed: a, b' -> '2 failed')."""
    failed = failed_names(value)
    return f"{len(failed)} failed" if failed else text(value)


def yes(value) -> str:
    return "yes" if value is True or value == 1 else ""


def plus_minus(value) -> str:
    """A spread as a share of the median, e.g. 0.0312 -> '±3.12%'; blank when missing."""
    return "" if pd.isna(value) else f"±{number(100 * value, 3)}%"


@dataclass(frozen=True)
class Column:
    header: str
    keys: tuple[str, ...]  # the priced table's column: the first of these that the table has values in
    format: Callable[[object], str] = text
    number: bool = False  # right-aligned
    shared: bool = False  # when every row has the same value, it is stated once under the table instead...
    stated: Callable[[object], str] | None = None  # ...as "<header> <stated(value)>" (default: as formatted)
    cited: bool = False  # the method label: its cells cite the Methods list by number
    legend: str | None = None  # cells are short names (short_names), each told in full in a note of this title
    always: bool = False  # shown even where no row has a value (its format says what a missing cell means)

    def key(self, priced: pd.DataFrame) -> str | None:
        """The column it shows; None when the table has no value for it (an empty table: the first it has)."""
        present = [k for k in self.keys if k in priced]
        keep = present[0] if present and (priced.empty or self.always) else None
        return next((k for k in present if priced[k].notna().any()), keep)


def _n(digits: int) -> Callable[[object], str]:
    return lambda value: number(value, digits)


# Power and energy at the stated power boundary (gpu, node, facility) where the pricing gives one; else as the
# meter measured them, at the boundary its method label names (e.g. "energy measured [nvml-counter] (gpu)").
_W = Column("W", ("power_w_boundary", "avg_power_w"), _n(3), number=True)
_J = Column("J/out tok", ("j_per_output_token_boundary", "j_per_output_token"), _n(3), number=True)
_BOUNDARY = Column("boundary", ("power_boundary",), shared=True)
_USD = Column("$/M in+out", ("total_per_mtok_usd",), _n(4), number=True)  # per input+output token
_CHECKS = Column("checks", ("checks",), checks, shared=True, stated=text)
METHOD = Column("method", ("label",), shared=True, cited=True)
_WORKLOAD = Column("workload", ("workload_label",), shared=True, legend="Workloads")
_PRECISION = Column("precision", ("precision",), shared=True)  # only where some row gives it

OFFLINE_COMPACT = [
    Column("model", ("model",)),
    Column("engine", ("engine",), shared=True),
    _PRECISION,
    Column("hardware", ("hardware",), shared=True),
    Column("batch", ("batch_size",), whole, number=True),
    _WORKLOAD,
    Column("out tok/s", ("output_tok_s",), _n(4), number=True),
    _W,
    _BOUNDARY,
    _J,
    _USD,
    Column("x API", ("cost_vs_api",), _n(3), number=True),
    _CHECKS,
    METHOD,
]

SERVING_COMPACT = [
    Column("model", ("model",)),
    Column("engine", ("engine",), shared=True),
    _PRECISION,
    Column("hardware", ("hardware",), shared=True),
    Column("load", ("load",)),
    Column("n", ("n",), whole, number=True),
    _WORKLOAD,
    Column("out tok/s", ("output_tok_s",), _n(4), number=True),
    Column("tok/s/user", ("interactivity",), _n(4), number=True),  # output tokens, as interactivity is
    Column("within SLO", ("goodput_share",), percent, number=True),
    Column("tiers met", ("tiers_met",)),
    _W,
    _BOUNDARY,
    _J,
    _USD,
    Column("$/M ±", ("total_per_mtok_usd_spread",), plus_minus, number=True),
    Column("on front", ("on_cost_front",), yes),
    _CHECKS,
    METHOD,
]


def shown(priced: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    """The table's shown columns under their headers (an optional column only where the table has it, a column
    of reuse only where some workload is not random)."""
    keys = [
        k
        for k in headers
        if (k in priced or k not in OPTIONAL)
        and (k not in REUSE or has_reuse(priced))
        and (k not in EXTENDED or (k in priced and "point" in priced))
        and (k not in WHERE_GIVEN or (k in priced and priced[k].notna().any()))
    ]
    return with_ranges(priced.reindex(columns=keys).rename(columns=headers), priced, headers)


def with_ranges(table: pd.DataFrame, priced: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    """After each shown number that a repeated point has a range of (NAME_min, NAME_max), that range as text:
    'min–max', blank for a point measured once."""
    for column in SPREAD_COLUMNS:
        header = headers.get(column)
        if header not in table or f"{column}_min" not in priced or priced[f"{column}_min"].isna().all():
            continue
        ranges = [
            f"{number(low)}–{number(high)}" if pd.notna(low) else ""
            for low, high in zip(priced[f"{column}_min"], priced[f"{column}_max"])
        ]
        table.insert(table.columns.get_loc(header) + 1, f"{header} {RANGE}", ranges)
    return table


def has_reuse(priced: pd.DataFrame) -> bool:
    """Whether some point's workload is other than random (whose requests are salted apart: nothing reused)."""
    return "workload_kind" in priced and priced["workload_kind"].fillna("random").ne("random").any()


def short_names(labels: pd.Series) -> dict[str, str]:
    """A short name for each workload label, for the compact view: its kind's (SHORT_KINDS), numbered in order of
    appearance where one kind has several labels, e.g. "shared-prefix 4x384+128/128" -> "prefix" or "prefix2"."""
    by_short: dict[str, list[str]] = {}
    for label in dict.fromkeys(labels.dropna()):
        kind = str(label).split(" ", 1)[0]
        by_short.setdefault(SHORT_KINDS.get(kind, kind), []).append(label)
    return {
        label: short if len(group) == 1 else f"{short}{n}"
        for short, group in by_short.items()
        for n, label in enumerate(group, 1)
    }


def full_view(priced: pd.DataFrame, headers: dict[str, str], methods: Methods) -> pd.DataFrame:
    """Every shown column, the method cited by number (its text is in the Methods list)."""
    table = shown(priced, headers)
    if "label" in headers:
        table[headers["label"]] = priced["label"].map(methods.ref)
    return table


def compact_view(priced: pd.DataFrame, columns: list[Column], methods: Methods) -> tuple[pd.DataFrame, list[str]]:
    """The compact table as text cells (numbers formatted, no scientific notation), and its notes: what every row
    shares, and which checks failed. A column without any value is left out."""
    cells, shared, right, legends = {}, [], [], []
    for column in columns:
        key = column.key(priced)
        if key is None:
            continue
        values = priced[key]
        formatted = values.map(methods.ref if column.cited else column.format)
        if column.shared and not priced.empty and values.nunique(dropna=False) == 1:
            said = column.stated(values.iloc[0]) if column.stated else formatted.iloc[0]
            shared.append(f"{column.header} {said}")
            continue
        if column.legend:
            names = short_names(values)
            formatted = values.map(names).fillna("")
            legends.append(f"{column.legend}: {'; '.join(f'{short} = {label}' for label, short in names.items())}.")
        cells[column.header] = formatted
        if column.number:
            right.append(column.header)
    table = pd.DataFrame(cells, index=priced.index).reset_index(drop=True)
    table.attrs["right"] = right
    notes = [f"Every row: {'; '.join(shared)}."] if shared else []
    notes += legends
    if _CHECKS.header in table and not priced.empty:
        failed = sorted({name for value in priced["checks"] for name in failed_names(value)})
        notes += [f"Failed checks: {', '.join(failed)} (--wide names them per row)."] if failed else []
    return table, notes


def cost_table(priced: pd.DataFrame, columns: list[Column], headers: dict[str, str], methods: Methods) -> dict:
    """A report section's cost table: the compact view, its notes, and every column to unfold below it."""
    table, notes = compact_view(priced, columns, methods)
    return {"table": table, "table_notes": notes, "full_table": full_view(priced, headers, methods)}


# The section tables' own column names (the analyses' tables keep them, as their tests and the CSV files do) as a
# reader reads them on the page and in report.md.
PLAIN_HEADERS = {
    "batch_size": "batch",
    "isl": "ISL",
    "osl": "OSL",
    "workload_label": "workload",
    "api": "API",
    "monthly_cost_usd": "$ a month",
    "capacity_mtok_per_month": "capacity, M tokens a month",
    "break_even_mtok_per_month": "break-even, M tokens a month",
    "break_even_share_of_capacity": "break-even, share of capacity",
    "lowest_total_per_mtok_usd": "lowest $/M in+out",
    "at_batch_size": "at batch",
    "tok_s_needed": "in+out tok/s needed",
    "throughput_factor_needed": "x throughput needed",
    "hourly_usd_needed": "$ an hour needed",
    "at_minus": "$/M, factor down",
    "at_plus": "$/M, factor up",
    "swing_usd": "swing $/M",
    "swing_share": "swing, share of base $/M",
}


def plain_headers(table: pd.DataFrame) -> pd.DataFrame:
    """A section table with plain headers (PLAIN_HEADERS); a compact view, already plain, as it is."""
    return table if "right" in table.attrs else table.rename(columns=PLAIN_HEADERS)


def markdown_table(table: pd.DataFrame) -> str:
    """A table as Markdown: float cells as number(); a compact view's text cells as they are."""
    return text_cells(table).to_markdown(index=False, disable_numparse=True, colalign=alignment(table) or None)


def console_table(table: pd.DataFrame) -> str:
    """A compact view for the terminal: columns two spaces apart, a rule under the headers, no pipes."""
    return tabulate(
        text_cells(table),
        headers="keys",
        tablefmt="simple",
        showindex=False,
        disable_numparse=True,
        colalign=alignment(table) or None,
    )


def text_cells(table: pd.DataFrame) -> pd.DataFrame:
    if "right" in table.attrs:
        return table
    return table.assign(**{c: table[c].map(number) for c in table.select_dtypes("float").columns})


def alignment(table: pd.DataFrame) -> list[str]:
    """Numbers right-aligned: a compact view's columns named in attrs['right'], else the numeric columns."""
    if "right" in table.attrs:
        return ["right" if c in table.attrs["right"] else "left" for c in table.columns]
    return [
        "right" if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]) else "left"
        for c in table.columns
    ]


def serving_compact(serving: pd.DataFrame) -> list[Column]:
    """SERVING_COMPACT; where points were checked against tiers, 'tiers met' in place of 'within SLO' (the share
    within the run's goodput SLO, which the full view keeps): both say which service level a point keeps."""
    if "tiers_met" in serving and serving["tiers_met"].notna().any():
        return [c for c in SERVING_COMPACT if c.header != "within SLO"]
    return SERVING_COMPACT


def fit(table: pd.DataFrame, width: int, header: str = "tiers met") -> pd.DataFrame:
    """The compact table, its `header` column's cells wrapped onto several lines (never inside a name) where the
    table is wider than `width` on a terminal."""
    if header not in table or table.empty:
        return table
    over = max(map(len, console_table(table).splitlines())) - width
    cells = table[header].astype(str)
    if over <= 0:
        return table
    room = max(max(map(len, cells)) - over, max(len(word) for cell in cells for word in cell.split() or [""]))
    wrapped = [
        "\n".join(textwrap.wrap(cell, room, break_on_hyphens=False, break_long_words=False)) or cell for cell in cells
    ]
    return table.assign(**{header: wrapped})


def serving_notes(serving: pd.DataFrame, legend: bool = True) -> list[str]:
    """What the compact serving view's columns of repeats and tiers mean, where it has them; with `legend`, each
    tier's limits too."""
    notes = []
    if "n" in serving and (serving["n"] > 1).any():
        notes.append(
            "n: measurements of the point, each number their median; $/M ±: half the range of their $/M "
            "as a share of the median."
        )
    if "tiers_met" not in serving or serving["tiers_met"].isna().all():
        return notes
    limits = serving.attrs.get("tiers", {})
    shown_names = dict.fromkeys(
        n.strip() for cell in serving["tiers_met"].dropna() for n in cell.split(",") if n.strip() != "none"
    )

    def looser(a: str) -> list[str]:  # the tiers keeping `a` keeps, strictest first
        bs = [b for b in limits if b != a and implied_by(a, b, limits) and not implied_by(b, a, limits)]
        return sorted(bs, key=lambda b: -len(looser(b)))

    implied = [f"{a} implies {', '.join(bs)}" for a in shown_names if (bs := looser(a))]
    notes.append(
        "tiers met: the service-level tiers a point kept (by most of its measurements, where repeated), "
        "each tier a stricter one implies left out"
        + (f" ({'; '.join(implied)})" if implied else "")
        + "; the share within the run's goodput SLO is in the full table."
    )
    if legend:
        notes.append("Tiers: " + "; ".join(f"{name} = {describe_limits(lim)}" for name, lim in limits.items()) + ".")
    else:
        notes.append("Each tier's limits: tokencost tiers.")
    return notes


def console_tables(priced, wide: bool = False, width: int = CONSOLE_WIDTH) -> str:
    """The cost tables a command prints: offline (also when there is nothing at all to show), then serving if
    any, each point measured several times once (median_of_repeats). By default the compact views, each with its
    notes, and the Methods they cite; every column if wide."""
    methods = Methods.of(priced.offline, priced.serving)
    serving = median_of_repeats(priced.serving)
    shows = [(priced.offline, OFFLINE_HEADERS, OFFLINE_COMPACT)] if not priced.offline.empty or serving.empty else []
    shows += [(serving, SERVING_HEADERS, serving_compact(serving))] if not serving.empty else []
    blocks = []
    for table, headers, columns in shows:
        if wide:
            blocks.append(markdown_table(shown(table, headers)))
            continue
        compact, notes = compact_view(table, columns, methods)
        if table is serving:
            compact, notes = fit(compact, width), notes + serving_notes(table, legend=False)
        blocks.append("\n".join([console_table(compact), *(_wrap(note, width) for note in notes)]))
    if not wide and methods.labels:
        blocks.append("Methods:\n" + "\n".join(_wrap(line, width) for line in methods.lines()))
    return "\n\n".join(blocks)


def _wrap(line: str, width: int) -> str:
    return "\n".join(textwrap.wrap(line, width, subsequent_indent="    ", break_on_hyphens=False))
