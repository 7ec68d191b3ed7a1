"""The report's section on capacity at service levels (the runs' capacity.jsonl, priced by
tokencost.pricing.capacity), and the short answer a command prints at its end: per model and tier, how many
units serve 1,000 users, and at what $/M tokens."""

import textwrap

import pandas as pd

from tokencost.pricing.capacity import CLOSED_LOOP, OPEN_LOOP, capacity_table
from tokencost.publish.columns import CONSOLE_WIDTH, METHOD, Column, compact_view, plus_minus, whole
from tokencost.publish.document import Methods, Report, Section, number

TITLE = "Capacity at service levels"
CSV_FILE = "capacity.csv"
AT_MOST = "at most "  # before the units of an "at least" capacity: the tier held at the most tried

HEADERS = {
    "model": "model",
    "hardware": "hardware",
    "accelerator_count": "units per server",
    "unit": "unit",
    "workload": "workload",
    "tier": "tier",
    "tier_limits": "limits",
    "status": "status",
    "capacity_text": "capacity",
    "first_failing_text": "fails at",
    "maximum": "most tried",
    "tolerance": "tolerance",
    "repeats": "repeats",
    "verdicts": "verdicts",
    "n": "n",
    "goodput_rps": "goodput req/s",
    "goodput_rps_min": "goodput min",
    "goodput_rps_max": "goodput max",
    "tier_usd_per_mtok": "$/M within tier",
    "tier_usd_per_mtok_min": "$/M min",
    "tier_usd_per_mtok_max": "$/M max",
    "users_at_capacity": "users at capacity",
    "users_basis": "users",
    "units_per_1000_users": "units per 1,000 users",
    "units_per_million_requests_day": "units per 1M requests/day",
    "note": "note",
    "label": "method",
}


def capacity_points(report: Report) -> pd.DataFrame:
    """The report's capacity searches priced (tokencost.pricing.capacity.capacity_table), empty without any."""
    return capacity_table(report.capacity, report.serving) if report.capacity else pd.DataFrame()


def full_table(table: pd.DataFrame, methods: Methods) -> pd.DataFrame:
    """Every column of the capacity table under its header, the method cited by number, text left blank where
    there is none."""
    full = table.reindex(columns=list(HEADERS)).assign(label=table["label"].map(methods.ref))
    text = full.select_dtypes(exclude="number").columns
    full[text] = full[text].astype(object).where(full[text].notna(), "")
    return full.rename(columns=HEADERS)


def _bounded(value, status) -> str:
    """A count of units: 'at most' it where the capacity is a lower bound; blank where there is none."""
    if pd.isna(value):
        return ""
    return (AT_MOST if status == "at-least" else "") + number(value, 3)


def _view(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the columns the compact view shows as text: units labelled, bounds said."""
    return table.assign(
        units=[
            f"{h} {u}, {whole(c)} per server" if pd.notna(h) else ""
            for h, u, c in zip(table["hardware"], table["unit"], table["accelerator_count"])
        ],
        per_users=[_bounded(v, s) for v, s in zip(table["units_per_1000_users"], table["status"])],
        per_requests=[_bounded(v, s) for v, s in zip(table["units_per_million_requests_day"], table["status"])],
    )


def _columns(table: pd.DataFrame) -> list[Column]:
    units = table["unit"].iloc[0] if table["unit"].nunique() == 1 else "units"
    return [
        Column("model", ("model",)),
        Column("units", ("units",), shared=True),
        Column("workload", ("workload",), shared=True),
        Column("tier", ("tier",)),
        Column("capacity", ("capacity_text",)),
        Column("fails at", ("first_failing_text",)),
        Column("n", ("n",), whole, number=True),
        Column("verdicts", ("verdicts",)),
        Column("goodput req/s", ("goodput_rps",), lambda v: number(v, 4), number=True),
        Column("$/M within tier", ("tier_usd_per_mtok",), lambda v: number(v, 4), number=True),
        Column("$/M ±", ("tier_usd_per_mtok_spread",), plus_minus, number=True),
        Column(f"{units} per 1,000 users", ("per_users",), number=True),
        Column(f"{units} per 1M requests/day", ("per_requests",), number=True),
        Column("users", ("users_basis",), shared=True),
        METHOD,
    ]


def _method_text(table: pd.DataFrame) -> list[str]:
    closed, opened = (table["load"] == "concurrency").any(), (table["load"] == "rate").any()
    bracket = "; ".join(
        b
        for b in (
            "concurrency 1, 2, 4, ... closed loop" if closed else "",
            "Poisson request rates doubling from a start rate (halving below it when it fails) open loop"
            if opened
            else "",
        )
        if b
    )
    tolerance = ", ".join(dict.fromkeys(f"{t:.0%}" for t in table["tolerance"].dropna())) or "?"
    repeats = ", ".join(dict.fromkeys(f"{r:g}" for r in table["repeats"].dropna())) or "?"
    users = "; ".join(
        u
        for u in (
            "closed loop, a user keeps one request in flight with no pause between them, so users = the concurrency"
            if (table["users_basis"] == CLOSED_LOOP).any()
            else "",
            "open loop, the users in flight by Little's law, requests/s x mean end-to-end seconds at the capacity"
            if (table["users_basis"] == OPEN_LOOP).any()
            else "",
        )
        if u
    )
    return [
        (
            f"The highest load each model's server carried while it kept each service-level tier, per workload. The "
            f"search brackets the load ({bracket}) up to a maximum, then bisects between the highest load that kept "
            f"the tier and the lowest that did not until they are within the tolerance ({tolerance}) of the lower, "
            "one request for concurrency. Every load tried while bisecting, and the answer, is measured "
            f"{repeats} times and judged by the majority of its measurements (a tie fails); a bracketing load is "
            "measured once, and again if it ends up the answer. 'at least': the tier held at the most tried load, "
            "so the units are at most those shown; 'never': it failed at the lowest load tried, and nothing is "
            "priced."
        ),
        (
            "At the capacity, over its n measurements (the median; '$/M ±' half their range as a share of the "
            "median): goodput is the requests that each kept the tier's limits per second of the measured window; "
            "$/M within tier is the point's hourly cost, priced as every point of its run, over the prompt and "
            "output tokens of those requests. Units per 1,000 users = 1,000 / users at capacity x the units one "
            f"server is priced on{', where ' + users if users else ''}. Units per 1M requests a day = "
            "1,000,000 / 86,400 s / goodput x the units one server is priced on. Units are what the run is priced "
            "by, named by the hardware's catalog key: GPUs, or vCPUs on a CPU."
        ),
    ]


def capacity_sections(report: Report) -> list[Section]:
    """The section, only where some run has capacity searches."""
    table = capacity_points(report)
    if table.empty:
        return []
    compact, notes = compact_view(_view(table), _columns(table), report.methods)
    tiers = dict(zip(table["tier"], table["tier_limits"]))
    notes.append("Tiers: " + "; ".join(f"{name} = {limits}" for name, limits in tiers.items()) + ".")
    notes += [
        f"{model}, {tier}: {note}."
        for model, tier, note in zip(table["model"], table["tier"], table["note"])
        if isinstance(note, str) and note
    ]
    return [
        Section(
            TITLE,
            _method_text(table),
            table=compact,
            table_notes=notes,
            full_table=full_table(table, report.methods),
            csv_files={CSV_FILE: table},
        )
    ]


def capacity_console(report: Report, width: int = CONSOLE_WIDTH) -> str:
    """The short answer printed at the end of `tokencost run` and `report`: per model and tier, how many units
    serve 1,000 users and at what $/M tokens; '' where no run has capacity searches. Lines fit `width`."""
    table = capacity_points(report)
    if table.empty:
        return ""
    several = table["workload"].nunique() > 1
    lines = [
        textwrap.fill(
            f"{TITLE}: how many units serve 1,000 users at each tier, and at what $/M (report.md says how):", width
        )
    ]
    lines += [
        textwrap.fill(
            capacity_sentence(row, several),
            width,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        for row in table.to_dict("records")
    ]
    return "\n" + "\n".join(lines) + "\n"


def capacity_sentence(row: dict, with_workload: bool = False) -> str:
    """One search's answer in words, e.g. 'tiny-dense, tier chat: 4 h100-sxm GPUs per 1,000 users, $0.9766/M tokens
    within the tier (capacity 250 concurrent requests; 1.2 GPUs per 1M requests/day)', or why there is none."""
    workload = f" ({row['workload']})" if with_workload else ""
    who = f"{row['model']}{workload}, tier {row['tier']}"
    if pd.isna(row["units_per_1000_users"]):
        return f"{who}: {row['capacity_text']}"
    bound = AT_MOST if row["status"] == "at-least" else ""
    usd = (
        f"${number(row['tier_usd_per_mtok'])}/M tokens within the tier"
        if pd.notna(row["tier_usd_per_mtok"])
        else "$/M unknown"
    )
    daily = (
        f"; {bound}{_units(row['units_per_million_requests_day'], row['unit'])} per 1M requests/day"
        if pd.notna(row["units_per_million_requests_day"])
        else ""
    )
    return (
        f"{who}: {bound}{_units(row['units_per_1000_users'], row['unit'], row['hardware'])} per 1,000 users, "
        f"{usd} (capacity {row['capacity_text']}{daily})"
    )


def _units(value: float, unit: str, hardware: str | None = None) -> str:
    """'250 h100-sxm GPUs', '1 GPU'."""
    return " ".join(w for w in (number(value, 3), hardware, unit if value != 1 else unit.removesuffix("s")) if w)
