"""The document a report is: the priced runs it is about, a headline, and sections of text, tables, bullets
and plots. report.md (publish.markdown) and index.html (publish.html_page) render the same document; the
section builders (publish.sections) fill it from the priced runs.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.run.record import PointRecord
from tokencost.pricing.priced_runs import PricedRuns, Pricing

NUMBER_FORMAT = ".4g"  # every number in report.md, index.html and the printed tables


@dataclass
class Plot:
    name: str  # written as <name>.png and <name>.svg
    title: str
    caption: str  # what it shows, with its method labels and preset
    figure: object  # a matplotlib Figure


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
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
    sections: list[Section] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # written by publish.write

    @property
    def offline(self) -> pd.DataFrame:
        return self.priced.offline

    @property
    def serving(self) -> pd.DataFrame:
        return self.priced.serving

    @property
    def run_ids(self) -> list[str]:
        return list(dict.fromkeys(r.run_id for r in self.records))

    @property
    def title(self) -> str:
        runs = self.run_ids
        return "Cost per million tokens: " + (f"run {runs[0]}" if len(runs) == 1 else f"{len(runs)} runs")
