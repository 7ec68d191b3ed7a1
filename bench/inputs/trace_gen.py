"""Small agentic, chat-like traces in Mooncake's format (see bench.inputs.trace), generated from a seed.

The model, in tokens and seconds:

- Sessions arrive as a Poisson process of `--rate` sessions a second, the first at 0.
- Each session starts with one of `--system-prompts` system prompts of 512 to 1536 tokens, cut to whole blocks,
  so sessions with the same one share their leading blocks.
- Its first turn is the system prompt and a user message of 64 to 512 tokens. Each later turn's prompt is the
  whole conversation so far: the previous prompt, its reply and a new message (the user's, or a tool's result)
  of 64 to 768 tokens. The previous prompt's whole blocks keep their hash ids, so a later turn reuses them; the
  rest gets new ids (the previous prompt's partial last block now holds other tokens, and the reply a replay
  sends back is a stand-in, not what the model generated: see bench.inputs.requests.multi_turn_requests).
- Replies are 16 to 64 tokens. The next turn comes an exponential time after the last, of mean `--think-s`
  (the reply, and the user's or the tool's time), at least half a second.
- A session has at most `--max-turns` turns, fewer when the next would not fit `--max-context` tokens
  (prompt and reply).
- Sessions interleave in time. The trace is the first `--requests` requests by time, of sessions generated
  until no later one could arrive before the last of them. Hash ids are numbered by first appearance.

All lengths are drawn uniformly from their ranges, bounds included. The same arguments give the same file, byte
for byte. The shipped trace, bench/inputs/traces/agentic-small.jsonl, is the defaults':

    python -m bench.inputs.trace_gen --out bench/inputs/traces/agentic-small.jsonl
"""

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np

SYSTEM_TOKENS = (512, 1536)
FIRST_MESSAGE_TOKENS = (64, 512)
MESSAGE_TOKENS = (64, 768)
OUTPUT_TOKENS = (16, 64)
MIN_GAP_MS = 500
# The longest first turn with its reply: a smaller --max-context could leave every session empty.
MIN_CONTEXT = SYSTEM_TOKENS[1] + FIRST_MESSAGE_TOKENS[1] + OUTPUT_TOKENS[1]


def generate(
    requests: int = 56,
    seed: int = 0,
    block_size: int = 512,
    rate: float = 1.0,
    think_s: float = 4.0,
    system_prompts: int = 3,
    max_turns: int = 6,
    max_context: int = 4096,
) -> list[dict]:
    """The trace's rows, sorted by timestamp: dicts with timestamp (ms), input_length, output_length, hash_ids.

    The defaults make the shipped trace: 56 requests over about 16 s, every one within a 4096-token context.
    """
    if max_context < MIN_CONTEXT:
        raise ValueError(f"max_context must be at least {MIN_CONTEXT}")
    rng = np.random.default_rng(seed)
    new_id = itertools.count()
    systems = []
    for _ in range(system_prompts):
        tokens = _draw(rng, SYSTEM_TOKENS)
        tokens = tokens // block_size * block_size or tokens  # whole blocks, unless shorter than one
        systems.append((tokens, [next(new_id) for _ in range(math.ceil(tokens / block_size))]))

    rows: list[dict] = []
    arrival = 0.0
    # Sessions arrive in order: once the next one arrives after the `requests`-th request, none can come earlier.
    while len(rows) < requests or arrival <= sorted(row["timestamp"] for row in rows)[requests - 1]:
        system_tokens, system_ids = systems[int(rng.integers(system_prompts))]
        rows += _session(rng, arrival, system_tokens, system_ids, new_id, block_size, think_s, max_turns, max_context)
        arrival += rng.exponential(1000 / rate)

    rows.sort(key=lambda row: row["timestamp"])  # stable: a session's turns keep their order
    rows = rows[:requests]
    numbers: dict[int, int] = {}  # by first appearance, so the ids are small and the file reads well
    for row in rows:
        row["hash_ids"] = [numbers.setdefault(h, len(numbers)) for h in row["hash_ids"]]
    return rows


def _session(
    rng: np.random.Generator,
    start_ms: float,
    system_tokens: int,
    system_ids: list[int],
    new_id,
    block_size: int,
    think_s: float,
    max_turns: int,
    max_context: int,
) -> list[dict]:
    rows = []
    now = start_ms
    input_length, hash_ids = system_tokens, list(system_ids)
    message, kept = _draw(rng, FIRST_MESSAGE_TOKENS), system_tokens // block_size
    for _ in range(max_turns):
        input_length += message
        output_length = _draw(rng, OUTPUT_TOKENS)
        if input_length + output_length > max_context:
            break
        hash_ids = hash_ids[:kept]
        hash_ids += [next(new_id) for _ in range(math.ceil(input_length / block_size) - kept)]
        rows.append(
            {
                "timestamp": round(now),
                "input_length": input_length,
                "output_length": output_length,
                "hash_ids": hash_ids,
            }
        )
        kept = input_length // block_size
        input_length += output_length
        message = _draw(rng, MESSAGE_TOKENS)
        now += max(rng.exponential(think_s * 1000), MIN_GAP_MS)
    return rows


def _draw(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def write_trace(path: Path, rows: list[dict]) -> None:
    lines = [
        json.dumps({key: row[key] for key in ("timestamp", "input_length", "output_length", "hash_ids")})
        for row in rows
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _number(low: float, high: float, low_included: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (low <= value if low_included else low < value) or not value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {'[' if low_included else '('}{low}, {high}]")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inputs.trace_gen",
        description="Write a small agentic, chat-like trace in Mooncake's JSONL format.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument("--requests", type=_whole(1, 1_000_000), help="requests in the trace (default 56)")
    parser.add_argument("--seed", type=_whole(0, 2**63 - 1), help="default 0")
    parser.add_argument("--block-size", type=_whole(1, 1_000_000), help="tokens a hash id covers (default 512)")
    parser.add_argument("--rate", type=_number(0, 1000, low_included=False), help="sessions a second (default 1)")
    parser.add_argument(
        "--think-s", type=_number(0, 3600, low_included=True), help="mean seconds between a session's turns (default 4)"
    )
    parser.add_argument("--system-prompts", type=_whole(1, 1000), help="system prompts sessions share (default 3)")
    parser.add_argument("--max-turns", type=_whole(1, 1000), help="most turns a session has (default 6)")
    parser.add_argument(
        "--max-context",
        type=_whole(MIN_CONTEXT, 10_000_000),
        help="most tokens a request's prompt and reply have together (default 4096)",
    )
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    rows = generate(**{name: value for name, value in args.items() if value is not None})  # unset: generate's default
    try:
        write_trace(out, rows)
    except OSError as e:
        print(f"--out: cannot write {out} ({e.strerror or e}); give a writable path", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} requests to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
