"""Progress of a sweep: points done out of the total, the current point, elapsed time and ETA.

On a terminal it keeps one status line up to date; elsewhere (CI logs, files)
it prints one plain line per finished point. The ETA counts the points left at
the mean time of those measured, and the engines still to start at the mean
time of those started: an engine's start (loading weights, compiling, warming
up) can take longer than all of its points.
"""

import sys
import time
from collections.abc import Callable
from typing import TextIO

CLEAR_LINE = "\r\033[K"


def human_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _no_engines() -> int:
    return 0


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        engines_left: Callable[[], int] = _no_engines,
    ):
        """`engines_left` says how many engines the sweep has still to start (not counting one starting now)."""
        self.total = total
        self.engines_left = engines_left
        self._engine_starts: list[float] = []
        self._engine_started: float | None = None
        self.done = 0
        self.current: str | None = None
        self.stream = stream or sys.stdout
        self.clock = clock
        self.started_at = clock()
        self._point_started: float | None = None
        self._durations: list[float] = []
        self._status_shown = False
        self._last_line: str | None = None
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())

    def start(self, point_label: str) -> None:
        self.current = point_label
        self._point_started = self.clock()
        if self.tty:
            self._show(f"[{self.done + 1}/{self.total}] {point_label} running")

    def engine_starting(self, label: str) -> None:
        """An engine begins to start; engine_started() says it is up, and the time between counts toward the ETA."""
        self._engine_started = self.clock()
        if self.tty:
            self._show(f"[{self.done}/{self.total}] starting {label}")

    def engine_started(self) -> None:
        if self._engine_started is not None:
            self._engine_starts.append(self.clock() - self._engine_started)
        self._engine_started = None

    def finish(self, point_label: str, ok: bool, status: str | None = None) -> None:
        """`status` names a non-ok outcome (failed, skipped, interrupted); skipped points never started."""
        if self._point_started is not None and point_label == self.current:
            self._durations.append(self.clock() - self._point_started)
        self._point_started = self.current = None
        self.done += 1
        line = f"[{self.done}/{self.total}] {point_label} {'ok' if ok else status or 'failed'}"
        if self.tty:
            self._show(line)
            if self.done >= self.total:
                self.stream.write("\n")
                self._status_shown = False
        else:
            self.stream.write(f"{line}, {self._times()}\n")
        self.stream.flush()

    def eta_s(self) -> float | None:
        """Mean duration of the points measured so far x the points still to do, plus the mean time of the engine
        starts so far x the engines still to start; None while either mean is unknown and needed."""
        remaining = max(0, self.total - self.done)
        if not remaining:
            return 0.0
        starts = self.engines_left()
        if not self._durations or starts and not self._engine_starts:
            return None
        points = sum(self._durations) / len(self._durations) * remaining
        return points + (sum(self._engine_starts) / len(self._engine_starts) * starts if starts else 0.0)

    def logging(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """`log`, clearing the status line first and drawing it again after, so both stay readable."""

        def log_around_status(message: str) -> None:
            shown = self._status_shown
            if shown:
                self.stream.write(CLEAR_LINE)
                self.stream.flush()
                self._status_shown = False
            log(message)
            if shown and self._last_line:
                self._show(self._last_line)

        return log_around_status

    def _times(self) -> str:
        eta = self.eta_s()
        elapsed = human_duration(self.clock() - self.started_at)
        return f"elapsed {elapsed}, ETA {'?' if eta is None else human_duration(eta)}"

    def _show(self, line: str) -> None:
        self._last_line = line
        self.stream.write(f"{CLEAR_LINE}{line}, {self._times()}")
        self.stream.flush()
        self._status_shown = True
