"""The GPU smoke test: `python -m bench.gpu_smoke` (see bench.gpu_smoke.smoke)."""
