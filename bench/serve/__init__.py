"""Serving mode: vLLM's OpenAI-compatible server (or an existing endpoint), a streaming client, its load
models, latency metrics, and the serving sweep."""
