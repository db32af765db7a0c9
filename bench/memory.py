"""Bytes kept per stored event, by tracemalloc, with typical LLM metadata.

The caller builds fresh dicts per event and drops them after ``emit``, as real
callers do, so what remains after ``flush`` (and ``gc.collect()``) is what the
store keeps. Two workloads, both with nested tokens, a sample id, a model and
a provider:

- ``llm_event`` without status: ``{"duration"}`` / ``{"model", "provider",
  "tokens": {"prompt", "completion"}, "sample_id": "s123"}``, one model;
- :class:`~bench._workload.RealisticEvents`: a status too, four models and
  providers, sample ids such as ``"gsm8k-0000123"``, two event names.

The note splits the figure: the fixed numeric columns every row has, the
mean MessagePack payload of its fields (what ``emit`` captured), and the
rest (block and index overhead). A reference row keeps the caller's own dicts
in a plain list of tuples.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from telemetry_actors import Runtime, emit
from telemetry_actors._emit._capture import encode_fields
from telemetry_actors._storage._block import DTYPES

from ._timing import Config, Measurement
from ._workload import RealisticEvents, llm_event, system_clock

CHUNK = 10_000
#: Bytes of the numeric columns of one stored row.
COLUMN_BYTES = sum(np.dtype(dtype).itemsize for dtype in DTYPES.values())

Event = tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]
Source = Callable[[int, int], Iterator[Event]]


def simple_events(first: int, count: int) -> Iterator[Event]:
    """``llm_event`` without status, made fresh."""
    return (llm_event(i, status=False) for i in range(first, first + count))


def realistic_source() -> Source:
    """Fresh realistic events, chunk by chunk (seeded)."""
    source = RealisticEvents(seed=11)
    return lambda first, count: iter(source.chunk(count))


def payload_bytes(events: list[Event]) -> float:
    """Mean MessagePack payload of the events' fields, as emit captures them."""
    return sum(len(encode_fields((m, md))) for _, m, md in events) / len(events)


def _traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def store_bytes(n: int, source: Source) -> tuple[float, int]:
    """(bytes per event kept by one experiment after storing ``n`` events, drops)."""
    async with Runtime(mailbox_size=CHUNK + 1024) as rt:
        experiment_id = (await rt.start_experiment("bench-memory")).id
        for event in source(-1, 1):  # warm the route cache and the store
            emit(*event)
        await rt.flush()
        tracemalloc.start()
        try:
            before = _traced_now()
            for first in range(0, n, CHUNK):
                for event in source(first, min(CHUNK, n - first)):
                    emit(*event)
                await rt.flush()
            after = _traced_now()
        finally:
            tracemalloc.stop()
        dropped = (await rt.streaming_metrics(experiment_id)).dropped
    return (after - before) / n, dropped


def split(per_event: float, payload: float, dropped: int) -> str:
    """The note: columns, payload and the rest, per event."""
    rest = per_event - COLUMN_BYTES - payload
    return f"{COLUMN_BYTES} columns + {payload:.0f} payload + {rest:.0f} other; {dropped} dropped"


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
    per_event, dropped = await store_bytes(n, simple_events)
    simple_payload = payload_bytes(list(simple_events(0, 1_000)))
    realistic, realistic_dropped = await store_bytes(n, realistic_source())
    realistic_payload = payload_bytes(RealisticEvents(seed=11).chunk(1_000))
    return [
        Measurement(
            "memory.store",
            f"bytes per stored event, llm_event ({n:,} events)",
            "bytes",
            [per_event],
            note=split(per_event, simple_payload, dropped),
        ),
        Measurement(
            "memory.store_realistic",
            f"bytes per stored event, realistic events ({n:,} events)",
            "bytes",
            [realistic],
            note=split(realistic, realistic_payload, realistic_dropped),
        ),
        Measurement(
            "memory.tuples",
            "reference: caller's dicts kept in a list of tuples",
            "bytes",
            [tuple_bytes(n)],
        ),
    ]
