"""Documents as Markdown: the report (report.md) and the claims (claims.md)."""

import pandas as pd

from tokencost.pricing.priced_runs import Pricing
from tokencost.publish.columns import markdown_table, plain_headers
from tokencost.publish.document import ANSWER_TITLE, FULL_TABLE, MEASURED_TITLE, METHODS_NOTE, Report


def report_markdown(report: Report) -> str:
    """The answer first (publish.answer), then what was measured and how, then the sections."""
    lines = [f"# {report.title}", "", f"## {ANSWER_TITLE}", "", *[f"- {line}" for line in report.answer], ""]
    headline = report.headline | {"Cheapest point": report.cheapest}
    lines += [f"## {MEASURED_TITLE}", "", *[f"- {key}: {value}" for key, value in headline.items()], ""]
    if report.methods.labels:
        lines += ["## Methods", "", METHODS_NOTE, "", *[f"- {line}" for line in report.methods.lines()], ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        if section.table is not None and not section.table.empty:
            lines += [markdown_table(plain_headers(section.table)), "", *[f"{note}\n" for note in section.table_notes]]
        if section.full_table is not None and not section.full_table.empty:
            lines += [
                f"<details><summary>{FULL_TABLE}</summary>",
                "",
                markdown_table(section.full_table),
                "",
                "</details>",
                "",
            ]
        if section.bullets:
            lines += [f"- {b}" for b in section.bullets] + [""]
        for plot in section.plots:
            lines += [f"![{plot.title}]({plot.name}.png)", "", f"*{plot.caption}* ([SVG]({plot.name}.svg))", ""]
    return "\n".join(lines)


def claims_markdown(table: pd.DataFrame, runs: list[str], pricing: Pricing) -> str:
    """The claims table (tokencost.analysis.claims.check_claims) with its verdicts, evidence and projections."""
    lines = [
        "# Claims about token costs, checked against measured runs",
        "",
        f"Runs: {', '.join(runs)}. Pricing preset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}).",
        "",
    ]
    for row in table.itertuples():
        figure = "" if row.figure is None or pd.isna(row.figure) else f" Figure: {row.figure:.4g}."
        lines += [f"## {row.claim}", "", f"**Verdict: {row.verdict}.**{figure}", "", f"Evidence: {row.evidence}.", ""]
        if row.projection:
            lines += [row.projection + ".", ""]
    return "\n".join(lines)
