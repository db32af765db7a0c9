"""Benchmark harness for telemetry_actors: run ``python -m bench`` from the repo root.

Each section module measures one thing and returns :class:`bench._timing.Measurement`
records; :mod:`bench.report` turns them into a table, ratios against the targets
and ``bench/RESULTS.md``. Benchmarks are never timed assertions in tests.
"""
