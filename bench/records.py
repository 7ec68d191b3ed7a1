"""Records: one JSON object per sweep point in results/<run-id>/records.jsonl.

Each point is appended and flushed as soon as it completes, so a crash never
costs the points already measured.
"""

import json
import os
from pathlib import Path

from bench.errors import UserError

SCHEMA_VERSION = 1
RECORDS_FILE = "records.jsonl"


class RecordWriter:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORDS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict) -> None:
        line = json.dumps({"schema_version": SCHEMA_VERSION} | record, sort_keys=False)
        with self.path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_records(run_dir: Path) -> list[dict]:
    """All records of a run; a torn last line (a crash mid-write) is skipped."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / RECORDS_FILE
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue  # torn last line
            raise UserError(f"{path}:{number}", "is not a JSON record", "repair or remove that line") from None
        version = record.get("schema_version")
        if version != SCHEMA_VERSION:
            raise UserError(
                f"{path}:{number} schema_version",
                f"{version!r} is not supported (this tokencost reads version {SCHEMA_VERSION})",
                "upgrade tokencost to read newer records",
            )
        records.append(record)
    return records
