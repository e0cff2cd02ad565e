"""Benchmark of collection, rendering, scrapes and memory at 1,000 and 10,000 vendors.

Run it with `python -m bench` (see `python -m bench --help` and docs/scaling.md).
"""
