"""Replay of a public Mooncake-format trace (github.com/kvcache-ai/Mooncake): real arrival times and lengths.

A trace is JSON Lines, one request a line:

    {"timestamp": 27482, "input_length": 1200, "output_length": 52, "hash_ids": [46, 47, 1021]}

`timestamp` is milliseconds since the trace's start; `hash_ids` has one id per `block_size`-token block of the
prompt (the last block may be partial), equal ids standing for equal content. The prompt's tokens are drawn
from each block's id, so a replay keeps the trace's prefix sharing without its (private) text. Other keys are
ignored, blank lines skipped. The project ships a small trace of its own (bench/inputs/traces/, made by
bench.inputs.trace_gen).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bench.errors import UserError
from bench.inputs.flags import Flag
from bench.inputs.json_files import JsonProblem, loads_json
from bench.inputs.requests import Request, token_ids
from bench.inputs.text_files import read_user_text

SHIPPED_TRACE = Path(__file__).parent / "traces" / "agentic-small.jsonl"
MAX_LENGTH = 10_000_000  # per input or output length, as bench.inputs.workload's MAX_TOKENS: refuses typos early
FILE_FIELD = "workload.trace.file"
FORMAT_FIX = (
    "give a Mooncake-format JSONL trace: one JSON object a line with timestamp (ms), input_length, "
    "output_length and hash_ids"
)


class TraceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    file: Annotated[
        str | None,
        Flag(
            "--trace", "trace: a Mooncake-format JSONL file (default: the small trace shipped with tokencost)", "FILE"
        ),
    ] = None
    block_size: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = 512  # tokens a hash id covers (Mooncake's)
    time_scale: Annotated[float, Field(strict=True, gt=0, le=1000)] = 1.0  # serving replay divides timestamps by it
    max_requests: Annotated[int | None, Field(strict=True, gt=0, le=1_000_000)] = None  # the first N by time


@dataclass(frozen=True)
class TraceRow:
    timestamp_ms: float
    input_length: int
    output_length: int
    hash_ids: tuple[int, ...]


def load_trace(settings: TraceSettings) -> list[TraceRow]:
    """The trace's requests sorted stably by timestamp (the first `max_requests` of them); every line checked."""
    path = Path(settings.file) if settings.file is not None else SHIPPED_TRACE
    text = _read_text(path)
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            rows.append(_parse_line(line, path, number, settings.block_size))
    if not rows:
        raise UserError(FILE_FIELD, f"{path} has no requests", FORMAT_FIX)
    rows.sort(key=lambda row: row.timestamp_ms)  # stable: equal timestamps keep the file's order
    return rows[: settings.max_requests]


def _read_text(path: Path) -> str:
    return read_user_text(path, FILE_FIELD, "a trace file", FORMAT_FIX)


def _parse_line(line: str, path: Path, number: int, block_size: int) -> TraceRow:
    def bad(problem: str, field: str = FILE_FIELD, fix: str = FORMAT_FIX) -> UserError:
        return UserError(field, f"{path} line {number}: {problem}", fix)

    try:
        item = loads_json(line)
    except JsonProblem as e:
        raise bad(str(e)) from None
    if not isinstance(item, dict):
        raise bad(f"is a JSON {type(item).__name__}, not an object")
    missing = [key for key in ("timestamp", "input_length", "output_length", "hash_ids") if key not in item]
    if missing:
        raise bad(f"has no {', '.join(missing)}")

    timestamp = item["timestamp"]
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise bad(f"timestamp is {_short(timestamp)}, not a number of milliseconds")
    timestamp = float(timestamp)  # finite: the JSON reader refuses what overflows a float
    if timestamp < 0:
        raise bad(f"timestamp is {_short(item['timestamp'])}, not a finite number of milliseconds >= 0")

    lengths = {}
    for key in ("input_length", "output_length"):
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"{key} is {_short(value)}, not a whole number of tokens")
        if not 0 < value <= MAX_LENGTH:
            raise bad(f"{key} is {value}, not between 1 and {MAX_LENGTH} tokens")
        lengths[key] = value

    hash_ids = item["hash_ids"]
    if not isinstance(hash_ids, list):
        raise bad(f"hash_ids is {_short(hash_ids)}, not a list of block ids")
    for h in hash_ids:
        if isinstance(h, bool) or not isinstance(h, int) or h < 0:
            raise bad(f"hash_ids holds {_short(h)}, not a block id (a whole number >= 0)")
    blocks = -(-lengths["input_length"] // block_size)
    if len(hash_ids) != blocks:
        raise bad(
            f"has {len(hash_ids)} hash_ids for input_length {lengths['input_length']}, which is {blocks} "
            f"blocks of {block_size} tokens",
            "workload.trace.block_size",
            "set workload.trace.block_size to the trace's block size (Mooncake's traces use 512)",
        )
    return TraceRow(timestamp, lengths["input_length"], lengths["output_length"], tuple(hash_ids))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def reused_tokens(rows: list[TraceRow], block_size: int) -> list[int]:
    """For each row, in order: the prompt tokens an earlier row already sent as a prefix.

    A block is reusable only if every block before it matches too (KV caches are prefix caches): the reuse is
    the longest leading run of hash ids that is also the start of an earlier row's hash ids.
    """
    prefixes: dict[tuple[int, int], int] = {}  # (prefix id, next hash id) -> id of the longer prefix: a trie
    reused = []
    for row in rows:
        prefix, hits = 0, 0
        for h in row.hash_ids:
            if (prefix, h) in prefixes:
                hits += 1  # only leading blocks can hit: after a miss the prefix is new and has no children
            else:
                prefixes[(prefix, h)] = len(prefixes) + 1
            prefix = prefixes[(prefix, h)]
        reused.append(min(hits * block_size, row.input_length))
    return reused


def trace_requests(rows: list[TraceRow], block_size: int, vocab_size: int, seed: int, salt: int) -> list[Request]:
    """One request per row, in order, `at_s` from the first row's timestamp (unscaled).

    Hash id h stands for the same `block_size` seeded tokens wherever it appears; another salt gives other tokens.
    """
    blocks: dict[int, list[int]] = {}  # traces repeat ids a lot: draw each once
    start = rows[0].timestamp_ms if rows else 0.0
    requests = []
    for row, reused in zip(rows, reused_tokens(rows, block_size), strict=True):
        prompt: list[int] = []
        for h in row.hash_ids:
            if h not in blocks:
                blocks[h] = token_ids(np.random.default_rng([seed, salt, h]), vocab_size, block_size)
            prompt += blocks[h]
        del prompt[row.input_length :]  # the last block may be partial
        requests.append(Request(prompt, row.output_length, reused=reused, at_s=(row.timestamp_ms - start) / 1000))
    return requests


def trace_stats(rows: list[TraceRow], block_size: int) -> dict:
    """The trace's size and shape, for labels and docs."""
    count = len(rows)
    input_tokens = sum(row.input_length for row in rows)
    output_tokens = sum(row.output_length for row in rows)
    return {
        "requests": count,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "duration_s": (max(r.timestamp_ms for r in rows) - min(r.timestamp_ms for r in rows)) / 1000 if rows else 0.0,
        "mean_isl": input_tokens / count if count else 0.0,
        "mean_osl": output_tokens / count if count else 0.0,
        "max_context": max((row.input_length + row.output_length for row in rows), default=0),
        "implied_reuse": sum(reused_tokens(rows, block_size)) / input_tokens if input_tokens else 0.0,
    }
