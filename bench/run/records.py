"""Records on disk: one JSON object per sweep point in results/<run-id>/records.jsonl.

Each point is appended and fsynced as soon as it completes, so a crash never
costs the points already measured. Reading migrates records written by an
older tokencost to the current schema (bench.run.record) and validates them.
"""

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.inputs.precision import DTYPE_FORMAT
from bench.run.record import SCHEMA_VERSION, PointRecord
from bench.secrets import redact
from bench.validation import parse

RECORDS_FILE = "records.jsonl"
FIX = "repair or remove that line"

logger = logging.getLogger(__name__)


class RecordWriter:
    """Appends records to <run_dir>/records.jsonl, each a whole line of its own.

    A torn last line already there (a crash or a full disk mid-write) is set aside before anything is
    appended: a record written onto the fragment would be lost with it, and the file refused.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORDS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        set_aside_torn_tail(self.path)

    def append(self, record: PointRecord) -> None:
        line = redact(json.dumps(record.to_json()))
        set_aside_torn_tail(self.path)  # an append of this run that a full disk cut short
        with self.path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def set_aside_torn_tail(path: Path) -> Path | None:
    """Move a records file's torn tail, byte for byte, to `<file>.torn-<UTC time>` beside it, cut the file back
    to its last complete record, and say so in one line; returns where the tail went.

    The torn tail is what follows the last line that parses as a JSON object, when that is more than
    whitespace: none of it is a record. A last record that is whole but lost only its newline keeps its
    place and gets the newline. Damage above the last record is left to read_records, which names the line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    keep = len(data)  # the file is cut back to data[:keep]
    while keep:
        begin = data.rfind(b"\n", 0, keep - 1) + 1  # where the line that ends at `keep` begins
        if _is_object(data[begin:keep]):
            break
        keep = begin
    tail = data[keep:]
    if not tail.strip():
        if keep == len(data) and data and not data.endswith(b"\n"):
            _append_synced(path, b"\n")
            logger.info(f"{path}: its last record had lost its newline (a crash while writing?); added it")
        return None
    aside = _aside_name(path)
    with aside.open("xb") as f:  # first the copy, synced, then the cut: a crash in between loses nothing
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    with path.open("r+b") as f:
        f.truncate(keep)
        os.fsync(f.fileno())
    logger.info(
        f"{path}: its end was not a complete record (a crash or a full disk while writing); moved those "
        f"{len(tail)} bytes to {aside.name}, every complete record is kept"
    )
    return aside


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # not JSON, or UTF-8 cut short
        return False


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside, n = path.with_name(f"{path.name}.torn-{stamp}"), 1
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.torn-{stamp}-{n}"), n + 1
    return aside


def _append_synced(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def has_records(run_dir: Path) -> bool:
    return (Path(run_dir) / RECORDS_FILE).is_file()


def read_records(run_dir: Path) -> list[PointRecord]:
    """All records of a run (its directory or its records.jsonl), migrated to the current schema.

    A torn last line (a crash mid-write) is skipped with a warning; any other damage is a UserError
    naming the line and the field.
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / RECORDS_FILE
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise UserError(str(path), "is not UTF-8 text", "give a records.jsonl written by tokencost") from None
    except OSError as e:
        raise UserError(
            str(path),
            f"cannot be read ({e.strerror or e})",
            "give a run directory or a records.jsonl written by tokencost",
        ) from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(
                    f"{path}:{number}: torn last line (a crash while writing?) ignored", TornRecordWarning, stacklevel=2
                )
                continue
            raise UserError(f"{path}:{number}", "is not a JSON record", FIX) from None
        if not isinstance(data, dict):
            raise UserError(f"{path}:{number}", "is not a JSON object", FIX)
        where = f"{path}:{number}"
        records.append(parse(PointRecord, migrated(data, where), where))
    return records


class TornRecordWarning(UserWarning):
    pass


def _v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 added steady-state windows, validity checks and the idle baseline."""
    record.setdefault("steady_state", {"reached": False, "why": "recorded with schema 1, before steady-state windows"})
    record.setdefault("validity", {})
    if "energy" in record:  # a failed point has none
        record["energy"] = {"idle_power_w": None, **record["energy"]}
    return record


def _v2_to_v3(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 gave the sweep's coordinates fields of their own (a serving point kept its concurrency in
    engine.batch_size), named the serving request counts, and put the validity checks under `checks`."""
    engine = dict(record.get("engine") or {})
    batch_size = engine.pop("batch_size", None)
    record["engine"] = engine
    if record.get("mode", "offline") == "serve":
        load = dict(record.get("load") or {})
        record["concurrency"] = load.pop("concurrency", None)
        record["request_rate"] = load.pop("request_rate", None)
        record["load"] = load
        for old, new in (("completed", "requests_completed"), ("failed", "requests_failed")):
            if old in record:
                record[new] = record.pop(old)
    else:
        record["batch_size"] = batch_size
    if isinstance(record.get("validity"), dict):
        checks = dict(record["validity"])
        all_ok = checks.pop("all_ok", None)
        record["validity"] = {"checks": checks, "all_ok": all_ok}
    return record


def _v3_to_v4(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 4 added the precision a point ran in. Before it, tokencost ran weights and KV cache unquantized
    in the engine's dtype; a record without its dtype (a failed point, an imported file, an endpoint) says
    nothing of its precision and gets none."""
    dtype = (record.get("engine") or {}).get("dtype")
    if "precision" not in record and record.get("source") is None and dtype in DTYPE_FORMAT:
        fmt = DTYPE_FORMAT[dtype]
        record["precision"] = {"weights": fmt, "kv_cache": fmt, "note": "schema 3: unquantized, in the engine dtype"}
    return record


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrated(record: dict[str, Any], where: str) -> dict[str, Any]:
    """The record in the current schema's layout (not yet validated)."""
    version = record.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(
            f"{where} schema_version",
            f"is {version!r}, not a schema version",
            f"give a whole number from 1 to {SCHEMA_VERSION}; records written by tokencost have one",
        )
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{where} schema_version",
            f"{version} is newer than this tokencost reads (1 to {SCHEMA_VERSION})",
            "upgrade tokencost to read newer records",
        )
    record = dict(record)
    while version < SCHEMA_VERSION:
        try:
            record = MIGRATIONS[version](record) | {"schema_version": version + 1}
        except (TypeError, ValueError, AttributeError) as e:
            raise UserError(where, f"a schema {version} record that cannot be migrated ({e})", FIX) from None
        version += 1
    return record
