"""Requests of a point: prompt token ids, output length, and what the workload's structure lets a cache reuse.

Every workload kind (bench.inputs.workload) turns into a stream of `Request`s,
the same for a given seed and salt. Engines and load models take them one at a
time; a multi-turn request carries its session's next turn, which is sent only
once this one has finished.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

# Ids below this are left out of prompts: tiny vocabularies keep their special tokens (pad, bos, eos) there.
FIRST_ORDINARY_TOKEN_ID = 4


@dataclass
class Request:
    prompt: list[int] | str  # token ids; text where a serving client sends a text prompt
    osl: int
    reused: int = 0  # leading prompt tokens an earlier request of the point already sent (the structure's reuse)
    at_s: float | None = None  # trace replay: when to send it, seconds after the point's first request
    think_s: float = 0.0  # multi-turn, serving: the user's pause before the next turn
    next_turn: Callable[[], "Request"] | None = None  # multi-turn: the session's next turn, built when needed

    def __len__(self) -> int:
        return len(self.prompt)


def as_request(item: "Request | list[int]", osl: int) -> Request:
    """A plain prompt of token ids as a request of `osl` output tokens; a request as it is."""
    return item if isinstance(item, Request) else Request(list(item), osl)


def implied_hits(request: Request, block_size: int) -> int:
    """Prompt tokens a prefix cache of `block_size`-token blocks can serve: whole blocks of the reused prefix,
    never the last prompt token (vLLM always computes it, to produce the first output token)."""
    blocks = min(request.reused, len(request.prompt) - 1) // block_size
    return max(blocks, 0) * block_size


def token_ids(rng: np.random.Generator, vocab_size: int, count: int) -> list[int]:
    return rng.integers(FIRST_ORDINARY_TOKEN_ID, vocab_size, size=count).tolist()


def random_requests(isl: int, osl: int, vocab_size: int, rng: np.random.Generator) -> Iterator[Request]:
    """Fixed lengths, random ids: no request shares anything with another."""
    while True:
        yield Request(token_ids(rng, vocab_size, isl), osl)


def shared_prefix_requests(
    prefixes: int, prefix_len: int, isl: int, osl: int, vocab_size: int, rng: np.random.Generator
) -> Iterator[Request]:
    """Request i starts with prefix i mod `prefixes` and ends with its own suffix; the first request of each
    prefix brings it, every later one reuses it."""
    shared = [token_ids(rng, vocab_size, prefix_len) for _ in range(prefixes)]
    i = 0
    while True:
        prefix = shared[i % prefixes]
        yield Request(
            prefix + token_ids(rng, vocab_size, isl - prefix_len), osl, reused=prefix_len if i >= prefixes else 0
        )
        i += 1


def multi_turn_requests(
    turns: int, isl: int, user_len: int, osl: int, think_s: float, vocab_size: int, rng: np.random.Generator
) -> Iterator[Request]:
    """First turns of sessions; each turn's prompt is the conversation so far (every earlier prompt and reply)
    plus `user_len` new tokens.

    The reply in the history is `osl` seeded tokens standing for what the model said, so a session is the
    same whatever the model generates. vLLM caches the blocks of the previous prompt; the reply it generated
    differs from the stand-in, so the reuse counted is the previous prompt only, a floor of what a real
    conversation, which sends back the model's own reply, reuses.
    """
    while True:
        session_seed = int(rng.integers(2**63))
        yield _turn(token_ids(rng, vocab_size, isl), 0, 1, turns, user_len, osl, think_s, vocab_size, session_seed)


def _turn(
    prompt: list[int],
    reused: int,
    turn: int,
    turns: int,
    user_len: int,
    osl: int,
    think_s: float,
    vocab_size: int,
    session_seed: int,
) -> Request:
    request = Request(prompt, osl, reused=reused, think_s=think_s)
    if turn < turns:

        def follow() -> Request:
            rng = np.random.default_rng([session_seed, turn])
            history = prompt + token_ids(rng, vocab_size, osl) + token_ids(rng, vocab_size, user_len)
            return _turn(history, len(prompt), turn + 1, turns, user_len, osl, think_s, vocab_size, session_seed)

        request.next_turn = follow
    return request
