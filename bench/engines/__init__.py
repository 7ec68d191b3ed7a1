"""Offline engines that generate a sweep point's tokens, each implementing bench.engines.base.Engine.

Each is imported only when used (vLLM and torch are heavy, and a GPU host may lack one of them).
"""

from importlib import import_module
from typing import get_args

from bench.engines.base import Engine
from bench.inputs.suite import EngineName

# Suite engine name -> module and class; the names are bench.inputs.suite.EngineName.
ENGINES = {
    "vllm": ("bench.engines.vllm_offline", "VllmOfflineEngine"),
    "transformers": ("bench.engines.transformers", "TransformersEngine"),
}
assert set(ENGINES) == set(get_args(EngineName)), "every engine a suite may name has a class, and no other"


def engine_class(name: str) -> type[Engine]:
    module, cls = ENGINES[name]
    return getattr(import_module(module), cls)
