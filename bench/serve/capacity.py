"""Capacity at a service level: the highest load a model's server carries while it keeps a tier.

For each model, workload and tier the search brackets the load (concurrency 1,
2, 4, ... closed loop; or Poisson rates doubling from a start rate, halving
below it when the start fails) up to `serve.capacity_max`, then bisects between
the highest load that kept the tier and the lowest that did not until they are
within `serve.capacity_tolerance` of the lower (one request for concurrency).
Every load tried while bisecting, and the answer, is measured
`serve.capacity_repeats` times and judged by the majority of its measurements;
bracketing loads are measured once, and confirmed with repeats if they end up
the answer. Measurements are ordinary serving records, keyed by load and
repeat, so the tiers of one search share them, a resumed run reuses them, and
the sweep's own points count. The outcome of each search is a line of
`capacity.jsonl` in the run directory.
"""

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

CAPACITY_FILE = "capacity.jsonl"
MIN_RATE_SHARE = 1 / 64  # an open-loop search that fails at its start rate halves down to this share of it


@dataclass
class Outcome:
    """One search's answer: the highest load that kept the tier, and the evidence."""

    model: str
    workload: str  # the workload's label
    workload_key: str
    tier: str
    load: str  # "concurrency" or "rate"
    status: str = "never"  # found | at-least (never failed up to the maximum) | never (failed at the lowest load)
    capacity: float | None = None  # the highest load that kept the tier
    first_failing: float | None = None  # the lowest load above it that did not
    tolerance: float = 0.0
    repeats: int = 1
    maximum: float = 0.0
    tried: dict[str, list[bool]] = field(default_factory=dict)  # load -> each measurement's verdict, in order
    points: list[str] = field(default_factory=list)  # the record keys measured at the capacity
    note: str | None = None

    def summary(self) -> str:
        unit = "concurrent requests" if self.load == "concurrency" else "requests/s"
        if self.status == "never":
            lowest = min(map(float, self.tried), default=None)
            return (
                f"{self.model} ({self.workload}) never meets tier {self.tier}: it failed at the lowest load tried "
                f"({_fmt(lowest)} {unit})"
            )
        above = (
            f", fails at {_fmt(self.first_failing)}"
            if self.first_failing is not None
            else f", the most tried: a lower bound{' (' + self.note + ')' if self.note else ''}"
        )
        return f"{self.model} ({self.workload}) meets tier {self.tier} at {_fmt(self.capacity)} {unit}{above}"


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


class Search:
    """The bracketing and bisection, given `judge(load, runs)`: each measurement's verdict at that load, with at
    least `runs` measurements made."""

    def __init__(self, integer: bool, start: float, maximum: float, tolerance: float, repeats: int):
        self.integer, self.start, self.maximum = integer, start, maximum
        self.tolerance, self.repeats = tolerance, repeats
        self.verdicts: dict[float, list[bool]] = {}

    def run(self, judge: Callable[[float, int], list[bool]]) -> tuple[float | None, float | None]:
        """(highest load that kept the tier, lowest above it that did not); None where there is none."""

        def passes(load: float, runs: int) -> bool:
            self.verdicts[load] = judge(load, runs)
            return sum(self.verdicts[load]) * 2 > len(self.verdicts[load])  # a tie does not pass

        low, high = self._bracket(passes)
        while low is not None:
            if not passes(low, self.repeats):  # the answer stands on a majority of repeats
                high, low = low, max((v for v in self.verdicts if v < low and self._passed(v)), default=None)
                continue
            if high is None or self._close(low, high):
                break
            middle = self._middle(low, high)
            if passes(middle, self.repeats):
                low = middle
            else:
                high = middle
        return low, high

    def _passed(self, load: float) -> bool:
        verdicts = self.verdicts[load]
        return sum(verdicts) * 2 > len(verdicts)

    def _bracket(self, passes) -> tuple[float | None, float | None]:
        load = self.start
        if not passes(load, 1) and not passes(load, self.repeats):  # "never" stands on a majority too
            if self.integer:
                return None, load
            while load * 0.5 >= self.start * MIN_RATE_SHARE:  # open loop: look below the start rate
                high, load = load, load * 0.5
                if passes(load, 1):
                    return load, high
            return None, load
        while True:
            bigger = min(load * 2, self.maximum)
            if bigger <= load:
                return load, None  # never failed up to the maximum
            if not passes(bigger, 1):
                return load, bigger
            load = bigger

    def _close(self, low: float, high: float) -> bool:
        if self.integer:
            return high - low <= max(1, math.floor(self.tolerance * low))
        return (high - low) / low <= self.tolerance

    def _middle(self, low: float, high: float) -> float:
        if self.integer:
            return (low + high) // 2
        return float(f"{(low + high) / 2:.3g}")  # rates to 3 significant digits: readable keys and labels


def append_outcome(run_dir: Path, outcome: Outcome) -> None:
    with (Path(run_dir) / CAPACITY_FILE).open("a") as f:
        f.write(json.dumps(asdict(outcome)) + "\n")


def read_outcomes(run_dir: Path) -> list[dict]:
    """The searches of a run, the last one of each (model, workload, tier) kept (a resumed run searches again)."""
    path = Path(run_dir) / CAPACITY_FILE
    if not path.exists():
        return []
    latest = {}
    for line in path.read_text().splitlines():
        try:
            outcome = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line (a crash mid-write): that search runs again on resume
        if isinstance(outcome, dict):
            # A fleet searches a model once per accelerator type (bench.fleet.sweep writes the type).
            key = outcome.get("accelerator"), outcome.get("model"), outcome.get("workload_key"), outcome.get("tier")
            latest[key] = outcome
    return list(latest.values())
