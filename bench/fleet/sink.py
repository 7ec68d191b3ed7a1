"""The fleet run directory's one writer: a Ray actor on the driver's node that appends every group's records
to records.jsonl as they arrive (each fsynced, as a one-machine run appends its own)."""

from pathlib import Path

from bench import console
from bench.run.record import PointRecord
from bench.run.records import RecordWriter
from bench.validation import parse


class RecordSink:
    def __init__(self, run_dir: str):
        console.show()  # what the writer logs (a torn tail set aside) reaches the driver, as Ray forwards stdout
        self.writer = RecordWriter(Path(run_dir))
        self.arrived: dict[str, list[dict]] = {}  # group name -> its records of this session, as appended
        self.running: dict[str, tuple[str, int]] = {}  # group name -> (node id, pid) of its task's process

    def append(self, group: str, record: dict) -> None:
        parsed = parse(PointRecord, record, f"a record of fleet group {group}")
        self.writer.append(parsed)
        self.arrived.setdefault(group, []).append(parsed.to_json())

    def arrivals(self, group: str) -> list[dict]:
        return self.arrived.get(group, [])

    def started(self, group: str, node_id: str, pid: int) -> None:
        self.running[group] = (node_id, pid)

    def tasks(self) -> dict[str, tuple[str, int]]:
        return self.running
