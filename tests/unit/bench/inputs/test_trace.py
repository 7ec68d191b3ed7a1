import json
import os
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.inputs.requests import FIRST_ORDINARY_TOKEN_ID
from bench.inputs.trace import (
    SHIPPED_TRACE,
    TraceRow,
    TraceSettings,
    load_trace,
    reused_tokens,
    trace_requests,
    trace_stats,
)
from bench.inputs.trace_gen import generate, main, write_trace
from bench.validation import parse


def row(hash_ids, input_length=None, output_length=8, timestamp_ms=0.0, block_size=4):
    return TraceRow(timestamp_ms, input_length or len(hash_ids) * block_size, output_length, tuple(hash_ids))


def line(timestamp=0, input_length=8, output_length=4, hash_ids=(0, 1), **extra):
    return json.dumps(
        {
            "timestamp": timestamp,
            "input_length": input_length,
            "output_length": output_length,
            "hash_ids": list(hash_ids),
            **extra,
        }
    )


def write(tmp_path, *lines, name="trace.jsonl"):
    path = tmp_path / name
    path.write_text("".join(text + "\n" for text in lines))
    return path


def load(path, **settings):
    return load_trace(TraceSettings(file=str(path), **{"block_size": 4, **settings}))


def test_equal_hash_ids_give_equal_tokens_and_other_ids_other_tokens():
    a, b = trace_requests([row([1, 2]), row([1, 3])], 4, vocab_size=1000, seed=0, salt=0)
    assert a.prompt[:4] == b.prompt[:4]
    assert a.prompt[4:] != b.prompt[4:]
    assert all(FIRST_ORDINARY_TOKEN_ID <= t < 1000 for t in a.prompt + b.prompt)
    (again,) = trace_requests([row([3])], 4, vocab_size=1000, seed=0, salt=0)
    assert again.prompt == b.prompt[4:]  # a block's tokens depend on its id only, not on where it appears


def test_another_salt_or_seed_gives_unrelated_tokens():
    rows = [row([1, 2])]
    base = trace_requests(rows, 4, 1000, seed=0, salt=0)[0].prompt
    assert trace_requests(rows, 4, 1000, seed=0, salt=0)[0].prompt == base
    assert trace_requests(rows, 4, 1000, seed=0, salt=1)[0].prompt != base
    assert trace_requests(rows, 4, 1000, seed=1, salt=0)[0].prompt != base


def test_reuse_is_the_longest_leading_run_an_earlier_request_started_with():
    rows = [
        row([1, 2, 3]),  # new
        row([1, 2, 4]),  # [1, 2] as the first
        row([5, 2, 3]),  # 2 and 3 were seen, but after another first block: nothing reusable
        row([1, 2, 3], input_length=10),  # all of the first, its last block partial: capped at the prompt
        row([1, 5]),  # 5 was seen first, never after 1
        row([5, 2, 3, 9]),  # the third's prefix
        row([9]),  # 9 was seen fourth, not first
        row([1, 2, 4, 7, 8], input_length=17),  # the second's three blocks
    ]
    assert reused_tokens(rows, 4) == [0, 8, 0, 10, 4, 12, 0, 12]
    requests = trace_requests(rows, 4, 1000, seed=0, salt=0)
    assert [r.reused for r in requests] == [0, 8, 0, 10, 4, 12, 0, 12]
    assert trace_stats(rows, 4)["implied_reuse"] == pytest.approx(46 / (12 * 3 + 10 + 8 + 16 + 4 + 17))


def test_a_partial_last_block_is_the_start_of_the_whole_one():
    whole, partial = trace_requests([row([1, 2]), row([1, 2], input_length=6, output_length=3)], 4, 1000, 0, 0)
    assert len(whole) == 8 and len(partial) == 6
    assert partial.prompt == whole.prompt[:6]
    assert partial.osl == 3


def test_send_times_count_from_the_first_request_in_seconds():
    rows = [row([1], timestamp_ms=1000), row([2], timestamp_ms=1500), row([3], timestamp_ms=3250.5)]
    assert [r.at_s for r in trace_requests(rows, 4, 1000, 0, 0)] == [0.0, 0.5, 2.2505]
    assert trace_stats(rows, 4)["duration_s"] == 2.2505


def test_rows_are_sorted_stably_by_time_and_cut_to_max_requests(tmp_path):
    path = write(
        tmp_path,
        line(5, output_length=1),
        line(0, output_length=2),
        "",
        "  ",
        line(5, output_length=3),
        line(0.5, output_length=4, extra="ignored"),
    )
    assert [r.output_length for r in load(path)] == [2, 4, 1, 3]
    assert [r.output_length for r in load(path, max_requests=3)] == [2, 4, 1]
    assert load(path)[1] == TraceRow(0.5, 8, 4, (0, 1))


def test_stats_of_a_small_trace():
    rows = [
        row([1, 2], output_length=5, timestamp_ms=0),
        row([1, 3], input_length=6, output_length=7, timestamp_ms=2000),
    ]
    assert trace_stats(rows, 4) == {
        "requests": 2,
        "input_tokens": 14,
        "output_tokens": 12,
        "duration_s": 2.0,
        "mean_isl": 7.0,
        "mean_osl": 6.0,
        "max_context": 13,
        "implied_reuse": 4 / 14,
    }


MALFORMED = {
    "invalid JSON": ([line(), "{not json"], r"line 2: is not valid JSON"),
    "not an object": ([line(), line(), "[1, 2]"], r"line 3: is a JSON list, not an object"),
    "missing key": (['{"timestamp": 0, "input_length": 8, "output_length": 4}'], r"line 1: has no hash_ids"),
    "bool length": ([line(input_length=True)], r"line 1: input_length is true, not a whole number"),
    "float length": ([line(input_length=8.0)], r"line 1: input_length is 8.0, not a whole number"),
    "string length": ([line(output_length="4")], r"line 1: output_length is \"4\", not a whole number"),
    "zero length": ([line(output_length=0)], r"line 1: output_length is 0, not between 1 and 10000000"),
    "negative length": ([line(input_length=-8)], r"line 1: input_length is -8, not between 1"),
    "huge length": ([line(input_length=10_000_001)], r"line 1: input_length is 10000001"),
    "NaN timestamp": (
        ['{"timestamp": NaN, "input_length": 8, "output_length": 4, "hash_ids": [0, 1]}'],
        r"line 1: timestamp is NaN, not a JSON number",
    ),
    "Infinity timestamp": (
        ['{"timestamp": -Infinity, "input_length": 8, "output_length": 4, "hash_ids": [0, 1]}'],
        r"line 1: timestamp is -Infinity, not a JSON number",
    ),
    "overflowing timestamp": (
        [line(), line().replace('"timestamp": 0', '"timestamp": 1e400')],
        r"line 2: timestamp is 1e400, not a finite number",
    ),
    "huge int timestamp": (
        [line(timestamp=10**400)],
        r"line 1: timestamp is 1000.*\(401 digits\), larger than 2\^63 - 1",
    ),
    "negative timestamp": ([line(timestamp=-1)], r"line 1: timestamp is -1, not a finite number of milliseconds >= 0"),
    "bool timestamp": ([line(timestamp=False)], r"line 1: timestamp is false, not a number"),
    "hash_ids not a list": (
        ['{"timestamp": 0, "input_length": 8, "output_length": 4, "hash_ids": 3}'],
        r"line 1: hash_ids is 3, not a list",
    ),
    "negative hash id": ([line(hash_ids=[0, -1])], r"line 1: hash_ids holds -1, not a block id"),
    "bool hash id": ([line(hash_ids=[0, True])], r"line 1: hash_ids holds true, not a block id"),
}


@pytest.mark.parametrize("lines, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_line_is_named_with_its_file_and_line(tmp_path, lines, message):
    path = write(tmp_path, *lines)
    with pytest.raises(UserError, match=f"^workload.trace.file: {path} {message}.*; give a Mooncake-format"):
        load(path)


def test_hash_ids_that_do_not_fit_the_block_size_point_at_the_block_size(tmp_path):
    path = write(tmp_path, line(), line(input_length=9))  # 9 tokens are 3 blocks of 4
    with pytest.raises(
        UserError,
        match=rf"^workload.trace.block_size: {path} line 2: has 2 hash_ids for input_length "
        r"9, which is 3 blocks of 4 tokens; set workload.trace.block_size to the ",
    ):
        load(path)
    assert len(load(path, block_size=5)) == 2  # 8 and 9 tokens are both 2 blocks of 5


@pytest.mark.parametrize("content", [b"", b"\n  \n\n"], ids=["empty", "blank lines"])
def test_a_trace_without_requests_is_refused(tmp_path, content):
    path = tmp_path / "trace.jsonl"
    path.write_bytes(content)
    with pytest.raises(UserError, match=f"^workload.trace.file: {path} has no requests"):
        load(path)


def test_files_that_cannot_be_read_as_text_are_refused(tmp_path):
    with pytest.raises(UserError, match=f"^workload.trace.file: {tmp_path / 'nope.jsonl'} does not exist"):
        load(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match=f"^workload.trace.file: {tmp_path} is a directory"):
        load(tmp_path)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(line().encode() + b"\n\x89PNG\0\0\x01")
    with pytest.raises(UserError, match=f"^workload.trace.file: {binary} line 2: is binary"):
        load(binary)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(line().encode() + b"\n" + line().encode() + b'\n{"caf\xe9": 1}\n')
    with pytest.raises(UserError, match=f"^workload.trace.file: {latin1} line 3: is not UTF-8 text"):
        load(latin1)


def test_an_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path, line())
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads it anyway: make the read fail as it would for anyone else

        def denied(self):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(UserError, match=f"^workload.trace.file: {path} cannot be read \\(permission denied\\)"):
        load(path)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"block_size": 0}, "block_size: is 0"),
        ({"block_size": 512.0}, "block_size: is 512.0"),
        ({"time_scale": 0}, "time_scale: is 0"),
        ({"time_scale": float("inf")}, "time_scale: is inf"),
        ({"max_requests": 0}, "max_requests: is 0"),
        ({"speed": 2}, "speed: is not a setting"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(UserError, match=f"^workload.trace {message}"):
        parse(TraceSettings, settings, "workload.trace")


def test_the_shipped_trace_fits_a_tiny_model_and_reuses_most_of_its_prompts():
    rows = load_trace(TraceSettings())
    stats = trace_stats(rows, 512)
    assert stats["requests"] == len(rows) == 56
    assert stats["max_context"] <= 4096
    assert all(r.input_length + r.output_length <= 4096 for r in rows)
    assert stats["implied_reuse"] > 0.5
    assert stats["duration_s"] < 30
    requests = trace_requests(rows, 512, vocab_size=32_000, seed=0, salt=0)
    assert [len(r) for r in requests] == [r.input_length for r in rows]
    assert [r.at_s for r in requests] == [r.timestamp_ms / 1000 for r in rows]  # it starts at 0


def test_the_generator_reproduces_the_shipped_trace_byte_for_byte(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "again.jsonl")]) == 0
    assert (tmp_path / "again.jsonl").read_bytes() == SHIPPED_TRACE.read_bytes()
    assert "wrote 56 requests" in capsys.readouterr().out


def test_the_generator_is_deterministic_from_its_seed(tmp_path):
    args = ["--requests", "30", "--block-size", "64", "--rate", "2", "--think-s", "1"]
    for name, seed in [("a", "7"), ("b", "7"), ("c", "8")]:
        assert main(["--out", str(tmp_path / f"{name}.jsonl"), "--seed", seed, *args]) == 0
    a, b, c = ((tmp_path / f"{name}.jsonl").read_bytes() for name in "abc")
    assert a == b != c
    rows = load(tmp_path / "a.jsonl", block_size=64)  # its hash ids fit its block size
    assert len(rows) == 30
    assert trace_stats(rows, 64)["implied_reuse"] > 0.5


def test_generated_sessions_share_system_prompts_and_earlier_turns(tmp_path):
    rows = generate(requests=40, seed=1, block_size=512)
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)
    assert all(r["input_length"] + r["output_length"] <= 4096 for r in rows)
    assert all(16 <= r["output_length"] <= 64 for r in rows)
    firsts = {tuple(r["hash_ids"][:1]) for r in rows}
    assert len(firsts) <= 3  # every session starts with one of three system prompts
    write_trace(tmp_path / "t.jsonl", rows)
    assert len(load(tmp_path / "t.jsonl", block_size=512)) == 40


def test_the_generator_refuses_bad_arguments(tmp_path, capsys):
    for args in (["--requests", "0"], ["--rate", "nan"], ["--max-context", "1000"], ["--block-size", "x"]):
        with pytest.raises(SystemExit) as exit_:
            main(["--out", str(tmp_path / "t.jsonl"), *args])
        assert exit_.value.code == 2
    assert not (tmp_path / "t.jsonl").exists()
    assert main(["--out", str(tmp_path / "missing" / "t.jsonl")]) == 2
    assert "--out: cannot write" in capsys.readouterr().err
