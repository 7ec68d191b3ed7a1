"""A fleet's capacity searches: each group's, with its points keyed as in the fleet's run directory, kept apart
per accelerator type."""

import json
from dataclasses import asdict

from bench.fleet.groups import Group
from bench.fleet.sweep import _keep_capacity
from bench.serve.capacity import Outcome, read_outcomes


def outcome(capacity: float) -> str:
    found = Outcome(
        "tiny-dense",
        "random 128/128",
        "isl128/osl128",
        "chat",
        "concurrency",
        "found",
        capacity,
        points=["tiny-dense/vllm-serve/conc4/isl128/osl128"],
    )
    return json.dumps(asdict(found))


def test_each_types_search_is_kept_with_its_points_under_the_type(tmp_path):
    _keep_capacity(tmp_path, Group("tiny-dense", "H100"), [outcome(8)])
    _keep_capacity(tmp_path, Group("tiny-dense", "A100"), [outcome(4)])
    found = {o["accelerator"]: o for o in read_outcomes(tmp_path)}
    assert found["H100"]["capacity"] == 8 and found["A100"]["capacity"] == 4
    assert found["H100"]["points"] == ["H100/tiny-dense/vllm-serve/conc4/isl128/osl128"]
