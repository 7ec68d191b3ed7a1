"""Measuring: workloads, engines, power meters, sweeps and records.

This package measures and never prices; it does not import `tokencost`.
"""
