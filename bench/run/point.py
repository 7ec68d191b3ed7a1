"""The measurement sequence every point follows, offline or serving, so both record the same things alike.

    with run.point_windows() as windows:             # started_at, whole-point snapshot
        result = load(windows.steady)                 # the engine or client begins/ends the steady window
    measured = windows.measured(key, ...)             # whole-point reading, steady state, checks, timeline

`measured.fields()` are the record fields this sequence owns.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bench.energy.meters import EnergyReading, Meter, Snapshot
from bench.run.record import EnergyInfo, SteadyState, Timeline, Validity
from bench.run.window import Window, steady_state

TIMELINE_FILE = "timeline.jsonl"


class MeasuringRun(Protocol):
    """What the sequence needs of the run it measures for (bench.run.run.SweepRun)."""

    meter: Meter
    run_dir: Path
    idle_power_w: float | None
    loaded_idle_power_w: float | None

    def checks_for(
        self,
        whole: EnergyReading,
        t0: float,
        t1: float,
        *,
        other_processes_matter: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> Validity: ...


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Measured:
    started_at: str
    finished_at: str
    energy: EnergyInfo
    steady_state: SteadyState
    validity: Validity
    timeline: Timeline | None

    def fields(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in ("started_at", "finished_at", "energy", "steady_state", "validity", "timeline")
            if getattr(self, name) is not None
        }


class PointWindows:
    def __init__(self, run: MeasuringRun):
        self.run = run
        self.steady = Window(run.meter)
        self.started_at = ""
        self.start: Snapshot | None = None
        self.stop: Snapshot | None = None

    def __enter__(self) -> "PointWindows":
        self.started_at = now()
        self.start = self.run.meter.snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = self.run.meter.snapshot()

    def measured(
        self,
        key: str,
        whole_window: str,
        steady_s: float,
        steady_tokens: int,
        why_not: str,
        *,
        other_processes_matter: bool = True,
        extra_checks: dict[str, Any] | None = None,
    ) -> Measured:
        """Read the windows: `whole_window` says what the whole-point window includes; `steady_s` and
        `steady_tokens` are the steady window's length and tokens as the load counted them (0 and `why_not`
        where it did not form)."""
        assert self.start is not None and self.stop is not None, "the windows are read after the with block"
        run, meter = self.run, self.run.meter
        whole = meter.reading(self.start, self.stop)
        whole.flags.append(f"whole-point window: {whole_window}")
        checks = run.checks_for(
            whole, self.start.t, self.stop.t, other_processes_matter=other_processes_matter, extra=extra_checks
        )
        saved = meter.save_timeline(run.run_dir / TIMELINE_FILE, key, self.start.t, self.stop.t)
        return Measured(
            started_at=self.started_at,
            finished_at=now(),
            energy=EnergyInfo(
                **whole.to_record(), idle_power_w=run.idle_power_w, loaded_idle_power_w=run.loaded_idle_power_w
            ),
            steady_state=steady_state(self.steady, steady_s, steady_tokens, why_not),
            validity=checks,
            timeline=Timeline(file=TIMELINE_FILE, point=key) if saved else None,
        )
