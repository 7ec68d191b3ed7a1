"""Workload kinds (random, shared-prefix, multi-turn, trace, lengths): their requests, labels, records and checks,
and how a suite plans them (extra workloads, engines, overrides)."""

import json
from itertools import islice

import pytest

from bench.errors import UserError
from bench.inputs.requests import FIRST_ORDINARY_TOKEN_ID, Request, as_request, implied_hits
from bench.inputs.suite import ServeSettings, Suite, with_overrides
from bench.inputs.workload import DEFAULT_ISL, WARMUP_OSL, PromptStream, PromptSupply, Workload
from bench.offline import plan as offline_plan
from bench.validation import parse

VOCAB = 1000


def shared_prefix(**settings) -> Workload:
    return Workload(kind="shared-prefix", isl=10, osl=3, shared_prefix={"prefixes": 2, "prefix_len": 6}, **settings)


def multi_turn(turns: int = 3, think_s: float = 0.5, **settings) -> Workload:
    return Workload(
        kind="multi-turn",
        isl=10,
        osl=3,
        multi_turn={"turns": turns, "user_len": 2, "think_time_s": think_s},
        **settings,
    )


def session(first: Request) -> list[Request]:
    turns, request = [], first
    while request is not None:
        turns.append(request)
        request = request.next_turn() if request.next_turn else None
    return turns


def write_trace(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


TRACE_ROWS = [
    {"timestamp": 0, "input_length": 8, "output_length": 3, "hash_ids": [1, 2]},
    {"timestamp": 500, "input_length": 6, "output_length": 2, "hash_ids": [1, 3]},
    {"timestamp": 2000, "input_length": 4, "output_length": 1, "hash_ids": [1]},
]


# --- implied hits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "length, reused, hits",
    [
        (512, 384, 384),  # a 384-token prefix of a 512-token prompt: three whole blocks
        (385, 384, 384),  # the suffix is the last token alone, which is always computed, not the prefix's
        (256, 256, 128),  # a prompt reused whole: its last token is computed, so its last block is not a hit
        (512, 383, 256),  # a partial block is not a hit
        (512, 127, 0),
        (512, 0, 0),
        (1, 1, 0),
    ],
)
def test_implied_hits_count_whole_blocks_and_never_the_last_prompt_token(length, reused, hits):
    assert implied_hits(Request([7] * length, 1, reused=reused), 128) == hits


def test_as_request_wraps_plain_token_ids_and_keeps_a_request():
    request = Request([5, 6], 9, reused=1)
    assert as_request(request, 3) is request
    wrapped = as_request((5, 6, 7), 3)
    assert (wrapped.prompt, wrapped.osl, wrapped.reused, wrapped.next_turn) == ([5, 6, 7], 3, 0, None)


# --- shared-prefix -------------------------------------------------------------------------------------------


def test_shared_prefix_request_i_starts_with_prefix_i_mod_p_and_has_its_own_suffix():
    requests = list(islice(shared_prefix().requests(VOCAB, salt=7), 6))
    assert [len(r) for r in requests] == [10] * 6
    assert [r.osl for r in requests] == [3] * 6
    prefixes = [tuple(r.prompt[:6]) for r in requests]
    assert prefixes[0] != prefixes[1]
    assert prefixes == [prefixes[0], prefixes[1]] * 3
    assert len({tuple(r.prompt[6:]) for r in requests}) == 6  # each suffix (isl - prefix_len tokens) its own
    assert [r.reused for r in requests] == [0, 0, 6, 6, 6, 6]  # the first of each prefix brings it
    assert all(FIRST_ORDINARY_TOKEN_ID <= t < VOCAB for r in requests for t in r.prompt)
    assert all(r.next_turn is None and r.at_s is None for r in requests)


def test_shared_prefix_is_the_same_for_a_seed_and_salt_and_differs_with_either():
    def prompts(workload, salt):
        return [r.prompt for r in islice(workload.requests(VOCAB, salt), 4)]

    assert prompts(shared_prefix(), 7) == prompts(shared_prefix(), 7)
    assert prompts(shared_prefix(), 7) != prompts(shared_prefix(), 8)
    assert prompts(shared_prefix(), 7) != prompts(shared_prefix(seed=1), 7)
    measured = prompts(shared_prefix(), 7)
    warm = [r.prompt for r in islice(shared_prefix().requests(VOCAB, 7, PromptStream.WARMUP), 4)]
    assert not {tuple(p[:6]) for p in measured} & {tuple(p[:6]) for p in warm}


@pytest.mark.parametrize("prefix_len, isl", [(512, 512), (600, 512), (9, 8)])
def test_a_prefix_as_long_as_the_prompt_is_refused_in_one_line_naming_prefix_len(prefix_len, isl):
    data = {"kind": "shared-prefix", "isl": isl, "shared_prefix": {"prefix_len": prefix_len}}
    with pytest.raises(UserError) as refused:
        parse(Workload, data, "suite.toml")
    message = str(refused.value)
    assert message == (
        f"suite.toml workload.shared_prefix.prefix_len: is {prefix_len}, which leaves no suffix in "
        f"isl {isl}; give a prefix_len below isl (the suffix is isl - prefix_len)"
    )
    assert "\n" not in message


def test_a_prefix_one_token_short_of_the_prompt_is_accepted():
    workload = parse(Workload, {"kind": "shared-prefix", "isl": 385, "shared_prefix": {"prefix_len": 384}}, "s")
    assert len(next(workload.requests(VOCAB))) == 385


def test_the_prefix_check_is_for_shared_prefix_only():
    assert Workload(isl=100, shared_prefix={"prefix_len": 384}).isl == 100  # random ignores the setting


# --- multi-turn ----------------------------------------------------------------------------------------------


def test_each_turn_sends_the_whole_conversation_so_far_and_reuses_the_previous_prompt():
    first = next(multi_turn(turns=3).requests(VOCAB, salt=3))
    turns = session(first)
    assert [len(t) for t in turns] == [10, 15, 20]  # each grows by osl (the reply) + user_len
    assert [t.reused for t in turns] == [0, 10, 15]
    assert [t.osl for t in turns] == [3, 3, 3]
    assert [t.think_s for t in turns] == [0.5, 0.5, 0.5]
    for before, after in zip(turns, turns[1:]):
        assert after.prompt[: len(before)] == before.prompt
    assert turns[-1].next_turn is None  # the session ends after `turns` turns
    assert all(FIRST_ORDINARY_TOKEN_ID <= t < VOCAB for turn in turns for t in turn.prompt)


def test_a_next_turn_is_the_same_however_often_it_is_built():
    first = next(multi_turn().requests(VOCAB))
    assert first.next_turn().prompt == first.next_turn().prompt


def test_sessions_are_the_same_for_a_seed_and_salt_and_differ_with_either():
    def sessions(workload, salt):
        return [[t.prompt for t in session(r)] for r in islice(workload.requests(VOCAB, salt), 3)]

    assert sessions(multi_turn(), 1) == sessions(multi_turn(), 1)
    assert sessions(multi_turn(), 1) != sessions(multi_turn(), 2)
    assert sessions(multi_turn(), 1) != sessions(multi_turn(seed=5), 1)
    first_prompts = [s[0] for s in sessions(multi_turn(), 1)]
    assert len({tuple(p) for p in first_prompts}) == 3  # sessions of one stream are unrelated
    replies = [s[1][10:13] for s in sessions(multi_turn(), 1)]
    assert len({tuple(r) for r in replies}) == 3  # and so are their stand-in replies


def test_multi_turn_context_and_mean_lengths():
    workload = Workload(kind="multi-turn", isl=100, osl=10, multi_turn={"turns": 3, "user_len": 5})
    assert workload.max_context() == 140  # the third prompt (100 + 2 x 15) and its 10 output tokens
    assert workload.mean_lengths() == (115.0, 10.0)  # prompts of 100, 115 and 130
    turns = session(next(workload.requests(VOCAB)))
    assert max(len(t) + t.osl for t in turns) == workload.max_context()
    assert sum(len(t) for t in turns) / len(turns) == workload.mean_lengths()[0]
    default = Workload(kind="multi-turn")  # isl 256, 4 turns of 64 user tokens, osl 128
    assert default.max_context() == 256 + 3 * (128 + 64) + 128 == 960
    assert default.mean_lengths() == (256 + 1.5 * 192, 128.0)


def test_multi_turn_points_take_sessions_not_requests():
    workload = Workload(kind="multi-turn", requests_per_batch=4, multi_turn={"turns": 4})
    assert workload.min_first_requests(4) == 4  # 16 requests are 4 sessions of 4 turns
    assert workload.min_first_requests(8, requests=10) == 8  # one session a slot at least
    assert workload.min_first_requests(2, requests=9) == 3  # whole sessions, rounded up
    assert Workload(requests_per_batch=4).min_first_requests(4) == 16
    assert shared_prefix(requests_per_batch=4).min_first_requests(4, requests=10) == 10


# --- every kind: defaults, labels, keys, records -------------------------------------------------------------


def test_a_kind_default_isl_applies_only_when_isl_is_not_given():
    assert DEFAULT_ISL == {"shared-prefix": 512, "multi-turn": 256}
    assert Workload(kind="shared-prefix").isl == 512
    assert Workload(kind="multi-turn").isl == 256
    assert parse(Workload, {"kind": "shared-prefix"}, "s").isl == 512
    assert Workload(kind="shared-prefix", isl=1000).isl == 1000
    assert parse(Workload, {"kind": "multi-turn", "isl": 64}, "s").isl == 64
    assert Workload().isl == Workload(kind="trace").isl == Workload(kind="lengths").isl == 128


@pytest.mark.parametrize(
    "workload, label, key",
    [
        (Workload(), "random 128/128", "isl128/osl128"),
        (Workload(isl=1024, osl=512), "random 1024/512", "isl1024/osl512"),
        (Workload(kind="shared-prefix"), "shared-prefix 4x384+128/128", "shared-prefix-4x384-128-128"),
        (
            Workload(kind="shared-prefix", isl=256, shared_prefix={"prefixes": 2, "prefix_len": 128}),
            "shared-prefix 2x128+128/128",
            "shared-prefix-2x128-128-128",
        ),
        (Workload(kind="multi-turn"), "multi-turn 4 turns 256+64/128", "multi-turn-4-turns-256-64-128"),
        (Workload(kind="trace"), "trace agentic-small", "trace-agentic-small"),
        (
            Workload(kind="trace", trace={"file": "/data/conv.jsonl", "time_scale": 2, "max_requests": 10}),
            "trace conv x2 first 10",
            "trace-conv-x2-first-10",
        ),
        (Workload(kind="trace", trace={"file": "t.jsonl", "time_scale": 0.5}), "trace t x0.5", "trace-t-x0.5"),
        (Workload(kind="lengths"), "lengths lognormal 256/128", "lengths-lognormal-256-128"),
        (
            Workload(kind="lengths", lengths={"distribution": "histogram", "histogram": "/x/chat.csv"}),
            "lengths chat",
            "lengths-chat",
        ),
    ],
)
def test_labels_and_keys_of_every_kind(workload, label, key):
    assert workload.label == label
    assert workload.key() == key
    assert "/" not in key or workload.kind == "random"  # a key is one part of a point key


def test_the_random_record_is_as_it_always_was():
    assert Workload().to_record() == {"isl": 128, "osl": 128, "requests_per_batch": 4, "seed": 0}
    assert Workload(batch_sizes=(4,)).to_record() == {"isl": 128, "osl": 128, "requests_per_batch": 4, "seed": 0}
    assert Workload().params() is None


def test_other_kinds_record_their_kind_label_and_parameters():
    assert Workload(kind="shared-prefix").to_record() == {
        "isl": 512,
        "osl": 128,
        "requests_per_batch": 4,
        "seed": 0,
        "kind": "shared-prefix",
        "label": "shared-prefix 4x384+128/128",
        "params": {"prefixes": 4, "prefix_len": 384},
    }
    assert Workload(kind="multi-turn").to_record() == {
        "isl": 256,
        "osl": 128,
        "requests_per_batch": 4,
        "seed": 0,
        "kind": "multi-turn",
        "label": "multi-turn 4 turns 256+64/128",
        "params": {"turns": 4, "user_len": 64, "think_time_s": 0.0},
    }
    trace = Workload(kind="trace").to_record()
    assert (trace["kind"], trace["label"]) == ("trace", "trace agentic-small")
    assert trace["params"] == {"file": None, "block_size": 512, "time_scale": 1.0, "max_requests": None}
    assert Workload(kind="lengths").to_record()["params"]["distribution"] == "lognormal"


def test_only_kinds_with_structure_are_cache_aware():
    assert [Workload(kind=k).cache_aware for k in ("random", "shared-prefix", "multi-turn", "trace", "lengths")] == [
        False,
        True,
        True,
        True,
        False,
    ]


# --- check_fits ----------------------------------------------------------------------------------------------


def test_a_random_workload_beyond_the_context_is_refused_as_before():
    with pytest.raises(UserError) as refused:
        Workload(isl=3000, osl=2000).check_fits(4096, "m")
    assert str(refused.value) == (
        "isl+osl: 3000+2000 exceeds m's context of 4096 tokens; lower --isl/--osl to at most 4096 tokens together"
    )
    Workload(isl=2048, osl=2048).check_fits(4096, "m")  # exactly the context fits


def test_a_multi_turn_workload_beyond_the_context_names_its_label_and_the_fix():
    workload = Workload(kind="multi-turn", multi_turn={"turns": 1000})
    with pytest.raises(UserError) as refused:
        workload.check_fits(4096, "m")
    assert str(refused.value) == (
        "workload (multi-turn 1000 turns 256+64/128): its longest request needs 192192 tokens, beyond m's context "
        "of 4096; use fewer workload.multi_turn.turns, or a shorter isl, osl or user_len"
    )
    assert refused.value.field == "workload (multi-turn 1000 turns 256+64/128)"
    Workload(kind="multi-turn").check_fits(960, "m")  # its longest request, exactly


def test_a_card_without_a_context_still_has_the_cap():
    Workload(isl=5_000_000, osl=5_000_000).check_fits(0, "m")
    with pytest.raises(UserError, match="exceeds m's context of 10000000 tokens"):
        Workload(isl=5_000_000, osl=5_000_001).check_fits(0, "m")


# --- warm-ups and supplies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", [Workload(isl=12), shared_prefix(), multi_turn()])
def test_warmup_requests_are_short_like_the_workload_and_on_their_own_stream(workload):
    warm = workload.warmup_requests(5, VOCAB, salt=9)
    assert len(warm) == 5
    assert all(r.osl == WARMUP_OSL == 8 for r in warm)
    assert all(len(r) == workload.isl for r in warm)
    assert all(r.next_turn is None for r in warm)  # a warm-up sends no later turns
    measured = {tuple(r.prompt) for r in islice(workload.requests(VOCAB, salt=9), 5)}
    assert not measured & {tuple(r.prompt) for r in warm}


def test_a_prompt_supply_over_a_trace_stops_at_the_end_of_the_trace(tmp_path):
    trace = write_trace(tmp_path / "tiny.jsonl", TRACE_ROWS)
    workload = Workload(kind="trace", trace={"file": trace, "block_size": 4})
    supply = PromptSupply(workload, VOCAB, round_size=2, minimum=100, min_seconds=3600.0, clock=lambda: 0.0)
    taken = list(supply)
    assert supply.taken == 3
    assert [(len(r), r.osl, r.at_s) for r in taken] == [(8, 3, 0.0), (6, 2, 0.5), (4, 1, 2.0)]
    assert [r.reused for r in taken] == [0, 4, 4]  # hash id 1 is every prompt's first block
    assert list(supply) == []  # and stays ended


def test_a_prompt_supply_of_multi_turn_hands_out_first_turns():
    now = [0.0]
    supply = PromptSupply(multi_turn(), VOCAB, round_size=2, minimum=4, min_seconds=0.0, clock=lambda: now[0])
    taken = list(supply)
    assert len(taken) == 4 and all(r.reused == 0 and len(r) == 10 and r.next_turn for r in taken)


# --- suites --------------------------------------------------------------------------------------------------

SHARED_AT_16 = Workload(
    kind="shared-prefix", isl=256, batch_sizes=(16,), shared_prefix={"prefixes": 4, "prefix_len": 128}
)


def test_extra_workloads_are_planned_at_their_own_batch_sizes_and_transformers_runs_random_only():
    suite = Suite(
        models=("tiny-dense",),
        engines=("vllm", "transformers"),
        batch_sizes=(1, 16),
        extra_workloads=(SHARED_AT_16, Workload(isl=64, osl=64)),
    )
    suite.check()
    planned = offline_plan(suite)
    assert [p.key for p in planned] == [
        "tiny-dense/vllm/batch1/isl128/osl128",
        "tiny-dense/vllm/batch16/isl128/osl128",
        "tiny-dense/vllm/batch16/shared-prefix-4x128-128-128",
        "tiny-dense/vllm/batch1/isl64/osl64",
        "tiny-dense/vllm/batch16/isl64/osl64",
        "tiny-dense/transformers/batch1/isl128/osl128",
        "tiny-dense/transformers/batch16/isl128/osl128",
        "tiny-dense/transformers/batch1/isl64/osl64",
        "tiny-dense/transformers/batch16/isl64/osl64",
    ]
    labels = {p.key: p.label for p in planned}
    assert labels["tiny-dense/vllm/batch1/isl128/osl128"] == "vllm batch 1"  # the main workload: as before
    assert labels["tiny-dense/vllm/batch16/shared-prefix-4x128-128-128"] == "vllm batch 16 shared-prefix 4x128+128/128"
    assert labels["tiny-dense/vllm/batch1/isl64/osl64"] == "vllm batch 1 random 64/64"
    shared = next(p for p in planned if "shared" in p.key)
    assert shared.workload is SHARED_AT_16 and shared.in_flight == 16 and shared.fields["batch_size"] == 16
    assert suite.engines_for(SHARED_AT_16) == ("vllm",)
    assert suite.engines_for(Workload()) == ("vllm", "transformers")


def test_a_suite_whose_main_workload_is_not_random_plans_no_transformers_points():
    suite = Suite(
        models=("tiny-dense", "tiny-moe"),
        engines=("vllm", "transformers"),
        batch_sizes=(1,),
        workload=Workload(kind="multi-turn"),
    )
    assert [p.key for p in offline_plan(suite)] == [
        "tiny-dense/vllm/batch1/multi-turn-4-turns-256-64-128",
        "tiny-moe/vllm/batch1/multi-turn-4-turns-256-64-128",
    ]


@pytest.mark.parametrize(
    "extra",
    [
        (Workload(),),  # the main workload again
        (SHARED_AT_16, SHARED_AT_16),
        (SHARED_AT_16, SHARED_AT_16.model_copy(update={"batch_sizes": (1,)})),  # same workload, other batch sizes
    ],
)
def test_a_workload_listed_twice_is_refused(extra):
    with pytest.raises(UserError) as refused:
        Suite(extra_workloads=extra).check()
    label = extra[0].label
    assert str(refused.value) == (
        f"extra_workloads: holds two workloads labelled '{label}' (or the main one again); "
        "give each workload once, with kind settings that tell them apart"
    )


def test_text_prompts_are_for_random_workloads_only():
    text = ServeSettings(prompt_format="text")
    Suite(mode="serve", serve=text, extra_workloads=(Workload(isl=64),)).check()
    for suite in (
        Suite(mode="serve", serve=text, workload=Workload(kind="multi-turn")),
        Suite(mode="serve", serve=text, extra_workloads=(SHARED_AT_16,)),
    ):
        with pytest.raises(UserError) as refused:
            suite.check()
        assert str(refused.value) == (
            "serve.prompt_format: 'text' is for the random workload only: the other "
            "kinds build prompts from token ids; use prompt_format = 'token-ids'"
        )


def test_a_new_kind_on_the_command_line_takes_its_default_isl_unless_isl_is_given():
    assert with_overrides(Suite(), kind="shared-prefix").workload.isl == DEFAULT_ISL["shared-prefix"] == 512
    assert with_overrides(Suite(), kind="multi-turn").workload.isl == 256
    assert with_overrides(Suite(), kind="shared-prefix", isl=1000).workload.isl == 1000
    assert with_overrides(Suite(workload=Workload(isl=64)), kind="shared-prefix").workload.isl == 512
    # the same kind again keeps the suite's isl; back to random takes random's
    kept = Suite(workload=Workload(kind="shared-prefix", isl=1000))
    assert with_overrides(kept, kind="shared-prefix").workload.isl == 1000
    assert with_overrides(kept, kind="random").workload.isl == 128
    assert with_overrides(Suite(), isl=300).workload == Workload(isl=300)  # no kind: as before


def test_kind_settings_on_the_command_line_change_only_what_is_given():
    suite = with_overrides(
        Suite(),
        kind="shared-prefix",
        kind_settings={
            "shared_prefix": {"prefixes": None, "prefix_len": 256},
            "multi_turn": {"turns": None},
            "trace": {"file": None},
        },
    )
    assert suite.workload.shared_prefix.model_dump() == {"prefixes": 4, "prefix_len": 256}
    assert suite.workload.label == "shared-prefix 4x256+256/128"
    with pytest.raises(
        UserError,
        match=r"^command line workload\.shared_prefix\.prefix_len: is 600, which leaves no "
        r"suffix in isl 512",
    ):
        with_overrides(Suite(), kind="shared-prefix", kind_settings={"shared_prefix": {"prefix_len": 600}})
    with pytest.raises(UserError, match=r"^command line workload\.multi_turn\.turns: is 1; input should be greater"):
        with_overrides(Suite(), kind="multi-turn", kind_settings={"multi_turn": {"turns": 1}})
