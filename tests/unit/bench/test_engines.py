"""Every engine a suite can name implements the Engine protocol, with the protocol's own signatures."""

import inspect
from typing import get_args

import pytest

from bench.engines import ENGINES, engine_class
from bench.engines.base import SAMPLING, Engine
from bench.inputs.suite import EngineName


def test_the_registry_covers_exactly_the_names_a_suite_accepts():
    assert set(ENGINES) == set(get_args(EngineName))


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_engine_implements_the_protocol(name):
    cls = engine_class(name)  # the module only: vLLM and torch load when an engine is built
    assert cls.name == name and isinstance(cls.mode, str)
    for method in ("__init__", "describe", "generate", "close"):
        ours = inspect.signature(getattr(cls, method))
        protocol = inspect.signature(getattr(Engine, method))
        assert list(ours.parameters) == list(protocol.parameters), (name, method)
        assert [p.default for p in ours.parameters.values()] == [p.default for p in protocol.parameters.values()]


def test_sampling_is_described_as_it_is_set():
    assert SAMPLING.describe() == "temperature 1.0, top_p 1.0, ignore_eos"
