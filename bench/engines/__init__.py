"""Engines that generate tokens for a sweep point. Each is imported only when used."""

ENGINES = ("vllm", "transformers")


def engine_class(name: str):
    if name == "vllm":
        from bench.engines.vllm_offline import VllmOfflineEngine

        return VllmOfflineEngine
    if name == "transformers":
        from bench.engines.transformers_engine import TransformersEngine

        return TransformersEngine
    raise ValueError(f"unknown engine {name!r}")
