"""Records: one JSON object per sweep point in results/<run-id>/records.jsonl.

Each point is appended and flushed as soon as it completes, so a crash never
costs the points already measured.
"""

import json
import os
import warnings
from pathlib import Path

from bench.errors import UserError
from bench.secrets import redact

SCHEMA_VERSION = 2
RECORDS_FILE = "records.jsonl"


class RecordWriter:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORDS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict) -> None:
        line = redact(json.dumps({"schema_version": SCHEMA_VERSION} | record, sort_keys=False))
        with self.path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_records(run_dir: Path) -> list[dict]:
    """All records of a run, migrated to the current schema; a torn last line (a crash mid-write) is skipped."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / RECORDS_FILE
    records = []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise UserError(str(path), "is not UTF-8 text", "give a records.jsonl written by tokencost") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}:{number}: torn last line (a crash while writing?) ignored",
                              TornRecordWarning, stacklevel=2)
                continue
            raise UserError(f"{path}:{number}", "is not a JSON record", "repair or remove that line") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{number}", "is not a JSON object", "repair or remove that line")
        records.append(_migrated(record, f"{path}:{number}"))
    return records


class TornRecordWarning(UserWarning):
    pass


def _v1_to_v2(record: dict) -> dict:
    """Schema 2 added steady-state windows, validity checks and the idle baseline."""
    record = dict(record)
    record.setdefault("steady_state", {"reached": False, "why": "recorded with schema 1, before steady-state windows"})
    record.setdefault("validity", {})
    record["energy"] = {"idle_power_w": None, **record.get("energy", {})}
    return record


MIGRATIONS = {1: _v1_to_v2}


def _migrated(record: dict, where: str) -> dict:
    version = record.get("schema_version")
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise UserError(
            f"{where} schema_version",
            f"{version!r} is not supported (this tokencost reads versions 1 to {SCHEMA_VERSION})",
            "upgrade tokencost to read newer records",
        )
    while version < SCHEMA_VERSION:
        try:
            record = MIGRATIONS[version](record) | {"schema_version": version + 1}
        except (TypeError, ValueError, AttributeError) as e:
            raise UserError(where, f"a schema {version} record that cannot be migrated ({e})",
                            "repair or remove that line") from None
        version += 1
    return record
