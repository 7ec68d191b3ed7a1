"""Measuring: what to run, the engines that run it, the joules it used, and the records it leaves.

Rooms, each importing only rooms listed after it: `overhead` (benchmarks of
the harness itself), `offline` and `serve` (the two sweeps), `engines`,
`run` (one run directory: records, windows, progress, resume), `inputs`
(suites, workloads, model cards) and `energy` (meters, GPUs, checks), then
the shared kernel (`errors`, `secrets`, `validation`, `environment`).
This package measures and never prices: it does not import `tokencost`.
"""
