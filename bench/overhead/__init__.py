"""Benchmarks of the harness itself against vLLM's own tools, side by side, printed as ratios."""
