from itertools import islice

import pytest

from bench.errors import UserError
from bench.inputs.workload import FIRST_ORDINARY_TOKEN_ID, Workload
from bench.validation import parse


def test_prompts_have_exact_length_and_stay_in_vocabulary():
    prompts = Workload(isl=33, osl=7, seed=3).prompts(5, vocab_size=100)
    assert len(prompts) == 5
    assert all(len(p) == 33 for p in prompts)
    assert all(FIRST_ORDINARY_TOKEN_ID <= t < 100 for p in prompts for t in p)


def test_same_seed_same_prompts_other_seed_other_prompts():
    assert Workload(seed=1).prompts(3, 500) == Workload(seed=1).prompts(3, 500)
    assert Workload(seed=1).prompts(3, 500) != Workload(seed=2).prompts(3, 500)


def test_requests_per_point_scale_with_batch():
    assert Workload(requests_per_batch=3).num_requests(8) == 24


def test_lengths_beyond_context_are_refused_with_the_fix():
    with pytest.raises(UserError, match=r"isl\+osl: 3000\+2000 exceeds m's context of 4096 tokens; lower"):
        Workload(isl=3000, osl=2000).check_fits(4096, "m")


@pytest.mark.parametrize("field", ["isl", "osl", "requests_per_batch"])
def test_non_positive_settings_are_refused(field):
    with pytest.raises(UserError, match=f"^suite.toml {field}: is 0; input should be greater than 0"):
        parse(Workload, {field: 0}, "suite.toml")


def test_a_prompt_supply_keeps_going_in_whole_rounds_until_its_time_is_up():
    from bench.inputs.workload import PromptSupply

    workload, now = Workload(isl=8, seed=3), [0.0]
    supply = PromptSupply(workload, 500, round_size=4, minimum=8, min_seconds=5.0, clock=lambda: now[0])
    taken = []
    for prompt in supply:
        taken.append(prompt)
        now[0] += 0.5  # half a second a prompt: a round takes 2 s, so 5 s have passed once the third round is out
    assert len(taken) == supply.taken == 12
    # the workload's own seeded stream, as a fixed-count point takes it
    assert [r.prompt for r in taken] == [r.prompt for r in islice(workload.requests(500), 12)]


def test_a_prompt_supply_gives_at_least_its_minimum_however_slow():
    from bench.inputs.workload import PromptSupply

    now = [0.0]
    supply = PromptSupply(Workload(isl=4), 100, round_size=2, minimum=6, min_seconds=0.0, clock=lambda: now[0])
    assert len(list(supply)) == 6
