"""A run directory: the folder a run measures into, its run.json, and whether a run may measure there.

A new run needs a folder that holds no run yet. A resumed one needs the run.json of a run with the same suite,
measured the same way: on one machine, or by a fleet sweep over a Ray cluster. Every check only reads; `create`
is the first write, and `remove_if_untouched` takes back the folders it made when the run is then refused.
"""

import json
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.inputs.suite import Suite
from bench.run.record import PointRecord
from bench.run.records import RECORDS_FILE, has_records, read_records
from bench.secrets import redact
from bench.validation import parse

RUN_FILE = "run.json"


class RunDirectory:
    """One run's folder. Its errors name `--resume` or `--out`, the flag that gave the folder."""

    def __init__(self, path: Path, *, resume: bool = False) -> None:
        self.path = Path(path)
        self.resume = resume
        self.flag = "--resume" if resume else "--out"
        # What the folder looked like before this run, so that a refused run can leave it as it was.
        self._missing = _missing_dirs(self.path)
        self._records_before = _state(self.path / RECORDS_FILE)

    @property
    def run_id(self) -> str:
        """The run's id: its folder's name, as every record keeps it."""
        return self.path.name

    def read(self) -> dict[str, Any]:
        """run.json, as written by `tokencost run`."""
        path = self.path / RUN_FILE
        fix = "give a directory written by `tokencost run`"
        try:
            run = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise UserError("--resume", f"{self.path} has no readable {RUN_FILE}", fix) from None
        if not isinstance(run, dict):
            raise UserError("--resume", f"{path} is not a JSON object", fix)
        return run

    def suite(self, run: dict[str, Any] | None = None) -> Suite:
        """The suite the run was measured with (to resume it with the same settings)."""
        run = self.read() if run is None else run
        return parse(Suite, run.get("suite"), f"{self.path}/{RUN_FILE} suite")

    def watts_per_vcpu(self) -> float | None:
        """The power per vCPU the run's estimated meter used, if it used one."""
        watts: float | None = (self.read().get("meter") or {}).get("watts_per_vcpu")
        return watts

    def is_fleet(self) -> bool:
        return "fleet" in self.read()

    def check_measured_by(self, *, fleet: bool) -> None:
        """A fleet run resumes on a cluster (`fleet`), and a one-machine run on its machine."""
        measured_by_fleet = self.is_fleet()
        if measured_by_fleet and not fleet:
            raise UserError(
                "--resume",
                f"{self.path} was measured by a fleet sweep on a Ray cluster",
                f"add --ray-address HOST:PORT: tokencost run --resume {self.path} --ray-address HOST:PORT",
            )
        if fleet and not measured_by_fleet:
            raise UserError(
                "--ray-address",
                f"{self.path} was measured on one machine",
                f"resume it without --ray-address: tokencost run --resume {self.path}",
            )

    def check_new(self) -> None:
        """A new run refuses a folder that holds one already."""
        if (self.path / RUN_FILE).exists():
            raise UserError(
                "--out",
                f"{self.path} already holds a run",
                f"give a new directory, or finish that run with --resume {self.path}",
            )

    def resumed_run(self, suite: Suite, *, fleet: bool, watts_per_vcpu: float | None = None) -> dict[str, Any]:
        """The run.json being resumed, once it is a run of `suite`, measured the same way (and, given
        `watts_per_vcpu`, with the same estimated meter)."""
        self.check_measured_by(fleet=fleet)
        run = self.read()
        stored = self.suite(run)
        if stored != suite:
            theirs = stored.model_dump()
            differ = sorted(k for k, v in suite.model_dump().items() if theirs[k] != v)
            raise UserError(
                "--resume",
                f"the settings differ from the run's ({', '.join(differ)})",
                "resume without --suite/--models/--batch-sizes/--isl/--osl"
                + ("/--accelerators" if fleet else "")
                + ", or start a new run",
            )
        stored_watts = (run.get("meter") or {}).get("watts_per_vcpu")
        if watts_per_vcpu is not None and stored_watts is not None and watts_per_vcpu != stored_watts:
            raise UserError(
                "--resume",
                f"--watts-per-vcpu {watts_per_vcpu} differs from the run's {stored_watts}",
                "leave --watts-per-vcpu out when resuming",
            )
        return run

    def ok_records(self) -> list[PointRecord]:
        """The points measured so far that count as done."""
        return [r for r in read_records(self.path) if r.ok] if has_records(self.path) else []

    def create(self) -> None:
        """The folder, with its missing parents: the run's first write."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(
                self.flag,
                f"{self.path} cannot be a run directory ({e.strerror or e})",
                "give a directory this user can write",
            ) from None

    def start(self, run: dict[str, Any]) -> None:
        """A new run's run.json."""
        self._write(run)

    def note_resumed(self, entry: object, hardware: dict[str, Any] | None = None) -> None:
        """Add a resumption to run.json; `hardware` fills figures that a run started before tokencost measured
        them lacks."""
        run = self.read()
        run.setdefault("resumed_at", []).append(entry)
        if isinstance(run.get("hardware"), dict):
            for key, value in (hardware or {}).items():
                run["hardware"].setdefault(key, value)
        self._write(run)

    def _write(self, run: dict[str, Any]) -> None:
        (self.path / RUN_FILE).write_text(redact(json.dumps(run, indent=2)))

    def wrote_records(self) -> bool:
        """Whether this run has written records (a resumed run may first cut a torn tail off, so the size alone
        could shrink while records were added: the modification time tells too)."""
        return _state(self.path / RECORDS_FILE) != self._records_before

    def remove_if_untouched(self) -> None:
        """A refused run leaves no trace: the folders it created go, if nothing was written into them."""
        if self.wrote_records():
            return
        for folder in self._missing:
            try:
                folder.rmdir()  # only ever an empty folder; anything written there stays
            except OSError:
                return


def _missing_dirs(path: Path) -> list[Path]:
    """The folders of `path` that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _state(path: Path) -> tuple[int, int] | None:
    """Size and modification time of a file; None if there is none."""
    return (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else None
