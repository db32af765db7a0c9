"""Bytes kept per stored event, by tracemalloc, with typical LLM metadata.

The caller builds fresh dicts per event and drops them after ``emit``, as real
callers do, so what remains after ``flush`` is what the store keeps. A
reference row keeps the caller's own dicts in a plain list of tuples.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from telemetry_actors import Runtime, emit

from ._timing import Config, Measurement
from ._workload import llm_event, system_clock

CHUNK = 10_000


def _traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def store_bytes(n: int) -> tuple[float, int]:
    """(bytes per event kept by one experiment after storing ``n`` events, drops)."""
    async with Runtime(mailbox_size=CHUNK + 1024) as rt:
        experiment_id = (await rt.start_experiment("bench-memory")).id
        emit(*llm_event(-1, status=False))  # warm the route cache and the store
        await rt.flush()
        tracemalloc.start()
        try:
            before = _traced_now()
            for first in range(0, n, CHUNK):
                for i in range(first, min(first + CHUNK, n)):
                    emit(*llm_event(i, status=False))
                await rt.flush()
            after = _traced_now()
        finally:
            tracemalloc.stop()
        dropped = (await rt.streaming_metrics(experiment_id)).dropped
    return (after - before) / n, dropped


def tuple_bytes(n: int) -> float:
    """Bytes per event of a list of (name, µs, measurements, metadata) tuples."""
    kept: list[Any] = []
    tracemalloc.start()
    try:
        before = _traced_now()
        for i in range(n):
            name, measurements, metadata = llm_event(i, status=False)
            kept.append((name, system_clock(), measurements, metadata))
        after = _traced_now()
    finally:
        tracemalloc.stop()
    return (after - before) / n


async def run(config: Config) -> list[Measurement]:
    """Measure both, once each (tracemalloc figures do not vary between runs)."""
    n = config.memory_n
    per_event, dropped = await store_bytes(n)
    return [
        Measurement(
            "memory.store",
            f"bytes per stored event ({n:,} events)",
            "bytes",
            [per_event],
            note=f"{dropped} dropped",
        ),
        Measurement(
            "memory.tuples",
            "reference: caller's dicts kept in a list of tuples",
            "bytes",
            [tuple_bytes(n)],
        ),
    ]
