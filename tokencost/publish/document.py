"""The document a report is: the priced runs it is about, a headline, and sections of text, tables, bullets
and plots. report.md (publish.markdown) and index.html (publish.html_page) render the same document; the
section builders (publish.sections) fill it from the priced runs.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.run.record import PointRecord
from tokencost.pricing.priced_runs import PricedRuns, Pricing
from tokencost.pricing.serving import median_of_repeats

if TYPE_CHECKING:  # matplotlib is imported only where a figure is drawn
    from matplotlib.figure import Figure

NUMBER_FORMAT = ".4g"  # numbers written into sentences; the tables' numbers are number()'s


def number(value, digits: int = 4) -> str:
    """A number in tables: `digits` significant digits in fixed notation, never scientific, with thousands
    separators, e.g. 0.00006566 -> "0.00006566", 0.000235712 -> "0.0002357", 3455.2 -> "3,455", 12703.4 -> "12,703";
    blank when missing."""
    if value is None or pd.isna(value):
        return ""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if decimals else text


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def stated_once(texts: Iterable[str]) -> list[str]:
    """The distinct texts, those that differ only in their numbers stated once with each number's range, e.g.
    "2 vCPU x 99.6% measured" and "2 vCPU x 100.0% measured" -> "2 vCPU x 99.6–100.0% measured"."""
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for text in dict.fromkeys(t for t in texts if isinstance(t, str)):
        groups.setdefault(tuple(_NUMBER.split(text)), []).append(_NUMBER.findall(text))
    merged = []
    for words, numbers in groups.items():
        spans = [_span(values) for values in zip(*numbers)] + [""]
        merged.append("".join(w + s for w, s in zip(words, spans)))
    return merged


def _span(values: tuple[str, ...]) -> str:
    low, high = min(values, key=float), max(values, key=float)
    return low if float(low) == float(high) else f"{low}–{high}"


ANSWER_TITLE = "The answer"
MEASURED_TITLE = "What was measured"  # the headline: what, hardware, when, pricing
METHODS_NOTE = "How the points were obtained, each way stated once: tables and captions cite these as [1], [2], ..."
FULL_TABLE = "Every column (as in the CSV file)"


class Methods:
    """How the priced points were obtained (their method labels), each stated once and cited as [1], [2], ..."""

    def __init__(self, labels: Iterable):
        self.labels = list(dict.fromkeys(label for label in labels if isinstance(label, str)))

    @classmethod
    def of(cls, *tables: pd.DataFrame) -> "Methods":
        return cls(label for table in tables for label in table.get("label", []))

    def ref(self, label) -> str:
        return f"[{self.labels.index(label) + 1}]" if label in self.labels else ""

    def cite(self, labels: Iterable) -> str:
        """'method [1]', or 'methods [1], [2]': the entries of these labels (e.g. a table's label column)."""
        numbers = sorted({self.labels.index(label) + 1 for label in labels if label in self.labels})
        return f"method{'s' if len(numbers) > 1 else ''} {', '.join(f'[{n}]' for n in numbers)}" if numbers else ""

    def caption(self, labels: Iterable) -> str:
        """cite(), for the start of a sentence: 'Method [1]'."""
        return self.cite(labels).capitalize()

    def lines(self) -> list[str]:
        return [f"[{n}] {label}" for n, label in enumerate(self.labels, 1)]


@dataclass
class Plot:
    name: str  # written as <name>.png and <name>.svg
    title: str
    caption: str  # what it shows, citing its methods (Report.methods)
    figure: "Figure"


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    table_notes: list[str] = field(default_factory=list)  # under the table: what every row shares, its methods
    full_table: pd.DataFrame | None = None  # every column of the table's rows, shown folded below it
    bullets: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    csv_files: dict[str, pd.DataFrame] = field(default_factory=dict)  # file name -> data written beside the report


@dataclass
class Report:
    records: list[PointRecord]
    priced: PricedRuns
    pricing: Pricing
    headline: dict[str, str] = field(default_factory=dict)  # what, hardware, when, pricing
    cheapest: str = ""  # the cheapest point, with its method label
    answer: list[str] = field(default_factory=list)  # what the report opens on (publish.answer), a sentence a line
    sections: list[Section] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # written by publish.write
    # The capacity searches of the runs (their capacity.jsonl lines), each with `run_ids`: its run directory's runs.
    capacity: list[dict] = field(default_factory=list)

    @property
    def offline(self) -> pd.DataFrame:
        return self.priced.offline

    @property
    def serving(self) -> pd.DataFrame:
        """One priced row per serving measurement (a repeated point's measurements each their own)."""
        return self.priced.serving

    @cached_property
    def serving_points(self) -> pd.DataFrame:
        """One row per serving point: a repeated one's measurements as their medians, with n and their spread."""
        return median_of_repeats(self.serving)

    @cached_property
    def methods(self) -> Methods:
        return Methods.of(self.offline, self.serving)

    @property
    def run_ids(self) -> list[str]:
        return list(dict.fromkeys(r.run_id for r in self.records))

    @property
    def title(self) -> str:
        runs = self.run_ids
        return "Cost per million tokens: " + (f"run {runs[0]}" if len(runs) == 1 else f"{len(runs)} runs")
