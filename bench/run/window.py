"""Measurement windows: meter snapshots at the instants a point's steady state begins and ends.

The engine (offline) or the client (serving) decides those instants and calls
`begin()` and `end()`; the energy between the two snapshots is the steady
state's, read after the point with the tokens counted inside the same window.
"""

from bench.energy.meters import Meter, Snapshot
from bench.run.record import EnergyInfo, SteadyState


class Window:
    """Takes a meter snapshot when the steady state begins and another when it ends."""

    def __init__(self, meter: Meter):
        self.meter = meter
        self.start: Snapshot | None = None
        self.stop: Snapshot | None = None

    def begin(self) -> None:
        self.start = self.meter.snapshot()

    def end(self) -> None:
        self.stop = self.meter.snapshot()


class NoWindow:
    """Window hooks that take no snapshot: warm-ups, probes, benchmarks."""

    def begin(self) -> None:
        pass

    def end(self) -> None:
        pass


def steady_state(window: Window, duration_s: float, output_tokens: int, why_not: str) -> SteadyState:
    """The steady-state window's throughput and energy, or why it was not reached."""
    if not (window.start and window.stop and duration_s > 0):
        return SteadyState(reached=False, why=why_not)
    energy = window.meter.reading(window.start, window.stop)
    return SteadyState(
        reached=True,
        duration_s=duration_s,
        output_tokens=output_tokens,
        output_tok_s=output_tokens / duration_s,
        energy=EnergyInfo(**energy.to_record()),
        j_per_output_token=energy.energy_j / output_tokens if energy.energy_j and output_tokens else None,
    )
