"""Queries over a large store (1 M realistic events, 1 ms apart) against floors.

The store is filled through ``emit`` with an injected clock advancing 1 ms per
event, with :class:`~bench._workload.RealisticEvents` (random log-normal
latencies and token counts, mixed models and two event names, in time
order): values in no order a sort or a partition could exploit. Only the
query calls are timed, through the public API. The floors get the same
values, extracted once (untimed) from ``get_all``:

- ``Last(1 s)``: a list comprehension over a plain list of all events;
- ``windowed_metrics``: prefix sums plus two bisects per window, on lists;
- ``calculate_metrics``: a numpy floor computing the same outputs from
  compact numpy columns (float64 latency and cost, int8 success, int64
  token counts, int32 name codes): ``np.percentile`` of the four ranks and
  the cost median, ``math.fsum`` totals (the contract's exactly rounded
  sums), mean, ``np.std``, min, max, success counts, token sums and means,
  per-name counts with ``np.unique``. (The old floor, ``sorted()`` and sums
  on Python lists, was slower than numpy and flattered the library.)
- ``windowed_metrics(…, percentiles=(50, 95, 99))`` against the same call
  without percentiles.

One-second windows of the oldest seconds, never read before, are timed on
their first and on their second read (an earlier core re-encoded a row's
payload on its second read; the pair shows whether a first-read cost is
left); the repeated ``Last(1 s)`` is the steady state of a live view
re-reading its newest window.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from telemetry_actors import Event, Last, Range, Runtime
from telemetry_actors._names import dotted

from ._timing import Case, Config, Measurement, run_cases
from ._workload import START_US, STEP_US, SteppingClock, fill_store

T = TypeVar("T")

PERCENTILES = (50, 95, 99)


def every_one(values: list[T | None], what: str) -> list[T]:
    """``values``, which the bench's LLM events all have: the floors take plain lists."""
    present = [value for value in values if value is not None]
    if len(present) != len(values):
        raise ValueError(f"{len(values) - len(present)} stored events have no {what}")
    return present


def full_scan(events: list[Any], start: int, end: int) -> list[Any]:
    """The floor of a time window without an index: test every event."""
    return [event for event in events if start <= event.timestamp <= end]


def prefix_sum_windows(
    timestamps: list[int],
    latencies: list[float],
    costs: list[float],
    successes: list[bool],
    window_us: int,
    step_us: int,
) -> list[tuple[int, int, float, float, int, int]]:
    """The floor of windowed metrics: prefix sums plus two bisects per window."""
    latency_sum = [0.0, *accumulate(latencies)]
    cost_sum = [0.0, *accumulate(costs)]
    success_n = [0, *accumulate(successes)]
    windows = []
    start, last = timestamps[0], timestamps[-1]
    while start + window_us <= last + step_us:
        low = bisect_left(timestamps, start)
        high = bisect_left(timestamps, start + window_us)
        count = high - low
        if count:
            successful = success_n[high] - success_n[low]
            windows.append(
                (
                    start,
                    count,
                    (latency_sum[high] - latency_sum[low]) / count,
                    cost_sum[high] - cost_sum[low],
                    successful,
                    count - successful,
                )
            )
        start += step_us
    return windows


@dataclass
class Columns:
    """Compact numpy columns of the stored events, taken once from ``get_all``."""

    timestamps: npt.NDArray[np.int64]
    latency: npt.NDArray[np.float64]
    cost: npt.NDArray[np.float64]
    success: npt.NDArray[np.int8]
    prompt: npt.NDArray[np.int64]
    completion: npt.NDArray[np.int64]
    names: npt.NDArray[np.int32]
    name_table: list[str]

    @classmethod
    def of(cls, events: list[Event]) -> Columns:
        """The columns of ``events`` (all of which have latency, cost, success, tokens)."""
        table: dict[str, int] = {}
        codes = [table.setdefault(dotted(event.event_name), len(table)) for event in events]
        tokens = [event.metadata["tokens"] for event in events]
        return cls(
            timestamps=np.array([event.timestamp for event in events], dtype=np.int64),
            latency=np.array(every_one([e.latency_ms for e in events], "latency")),
            cost=np.array(every_one([e.cost_usd for e in events], "cost")),
            success=np.array(every_one([e.success for e in events], "success"), dtype=np.int8),
            prompt=np.array([t["prompt"] for t in tokens], dtype=np.int64),
            completion=np.array([t["completion"] for t in tokens], dtype=np.int64),
            names=np.array(codes, dtype=np.int32),
            name_table=list(table),
        )


def numpy_metrics(columns: Columns) -> dict[str, Any]:
    """The floor of calculate_metrics: the same outputs, at numpy speed."""
    latency, cost = columns.latency, columns.cost
    count = len(latency)
    p50, p90, p95, p99 = np.percentile(latency, (50, 90, 95, 99)).tolist()
    latency_total = math.fsum(latency)
    cost_total = math.fsum(cost)
    prompt, completion = int(columns.prompt.sum()), int(columns.completion.sum())
    codes, counts = np.unique(columns.names, return_counts=True)
    return {
        "count": count,
        "time_range": (int(columns.timestamps[0]), int(columns.timestamps[-1])),
        "mean": latency_total / count,
        "std_dev": float(np.std(latency, ddof=1)),
        "min": float(latency.min()),
        "max": float(latency.max()),
        "p50": p50,
        "p90": p90,
        "p95": p95,
        "p99": p99,
        "cost_total": cost_total,
        "cost_mean": cost_total / count,
        "cost_median": float(np.percentile(cost, 50)),
        "successful": int(np.count_nonzero(columns.success == 1)),
        "failed": int(np.count_nonzero(columns.success == 0)),
        "prompt": prompt,
        "completion": completion,
        "tokens": prompt + completion,
        "mean_tokens": (prompt + completion) / count,
        "events": {
            columns.name_table[code]: n
            for code, n in zip(codes.tolist(), counts.tolist(), strict=True)
        },
    }


def same_metrics(floor: dict[str, Any], metrics: Any) -> str:
    """Do the floor and calculate_metrics agree? (A note for the table.)"""
    pairs = [
        (floor["p50"], metrics.latency.p50),
        (floor["p99"], metrics.latency.p99),
        (floor["mean"], metrics.latency.mean),
        (floor["cost_total"], metrics.cost.total),
        (floor["cost_median"], metrics.cost.median_per_request),
        (floor["successful"], metrics.reliability.successful),
        (floor["tokens"], metrics.tokens.total),
    ]
    equal = all(a == b for a, b in pairs) and floor["events"] == metrics.summary.event_types
    close = math.isclose(floor["std_dev"], metrics.latency.std_dev, rel_tol=1e-9)
    return "same outputs as calculate_metrics" if equal and close else "OUTPUTS DIFFER"


async def early_reads(rt: Runtime, experiment_id: str, config: Config) -> list[Measurement]:
    """Time 1 s windows read for the first and the second time, each a different second.

    The seconds are the oldest ones, which the ``Last(1 s)`` case never reads.
    """
    seconds = config.store_n * STEP_US // 1_000_000
    per_rep = max(1, min(config.query_repeats, (seconds - 2) // config.reps))
    first, second = (
        Measurement(
            f"query.{key}_1s",
            f"a 1 s window read for the {ordinal} time at {config.store_n:,}",
            "µs/query",
        )
        for key, ordinal in (("first", "first"), ("second", "second"))
    )
    span = 0
    for _ in range(config.reps):
        elapsed = [0.0, 0.0]
        for _ in range(per_rep):
            window = Range(START_US + span * 1_000_000, START_US + span * 1_000_000 + 999_999)
            span += 1
            for read in (0, 1):
                started = time.perf_counter()
                await rt.query_window(experiment_id, window)
                elapsed[read] += time.perf_counter() - started
        first.samples.append(elapsed[0] * 1e6 / per_rep)
        second.samples.append(elapsed[1] * 1e6 / per_rep)
    return [first, second]


async def run(config: Config) -> list[Measurement]:
    """Build the store, then time each query and its floor, interleaved."""
    n, repeats = config.store_n, config.query_repeats
    window_us, step_us = config.window_us, config.step_us
    clock = SteppingClock(START_US, 0)
    async with Runtime(clock=clock, mailbox_size=config.store_chunk + 1024) as rt:
        experiment_id = await fill_store(rt, clock, n, config.store_chunk)
        early = await early_reads(rt, experiment_id, config)
        events = await rt.get_all(experiment_id)
        columns = Columns.of(events)
        timestamps = columns.timestamps.tolist()
        latencies, costs = columns.latency.tolist(), columns.cost.tolist()
        successes = (columns.success == 1).tolist()
        now = clock.now
        window = Last(1, "seconds")

        scanned = full_scan(events, now - window.span_us, now)
        queried = await rt.query_window(experiment_id, window)
        floor_windows = prefix_sum_windows(
            timestamps, latencies, costs, successes, window_us, step_us
        )
        windows = await rt.windowed_metrics(experiment_id, window_us, step_us)
        checks = [
            f"stored {len(events):,} of {n:,} events",
            f"Last(1 s) returns {len(queried)} events (full scan {len(scanned)})",
            f"{len(windows)} windows (floor {len(floor_windows)})",
            same_metrics(numpy_metrics(columns), await rt.calculate_metrics(experiment_id)),
        ]

        async def last_queries() -> None:
            for _ in range(repeats):
                await rt.query_window(experiment_id, window)

        minutes = f"{window_us / 60e6:g} min / {step_us / 60e6:g} min"
        cases = [
            Case(
                "query.last_1s",
                f"query_window(Last(1 s)) at {n:,}",
                "µs/query",
                last_queries,
                1e6 / repeats,
            ),
            Case(
                "query.full_scan",
                f"full scan of a plain list at {n:,}",
                "µs/query",
                lambda: full_scan(events, now - window.span_us, now),
                1e6,
            ),
            Case(
                "query.windowed",
                f"windowed_metrics ({minutes}) at {n:,}",
                "ms",
                lambda: rt.windowed_metrics(experiment_id, window_us, step_us),
                1e3,
            ),
            Case(
                "query.windowed_pct",
                f"windowed_metrics ({minutes}, percentiles={PERCENTILES}) at {n:,}",
                "ms",
                lambda: rt.windowed_metrics(
                    experiment_id, window_us, step_us, percentiles=PERCENTILES
                ),
                1e3,
            ),
            Case(
                "query.windowed_floor",
                "prefix sums + bisect on prebuilt columns",
                "ms",
                lambda: prefix_sum_windows(
                    timestamps, latencies, costs, successes, window_us, step_us
                ),
                1e3,
            ),
            Case(
                "query.metrics",
                f"calculate_metrics at {n:,}",
                "ms",
                lambda: rt.calculate_metrics(experiment_id),
                1e3,
            ),
            Case(
                "query.metrics_floor",
                "numpy floor: same outputs from compact columns",
                "ms",
                lambda: numpy_metrics(columns),
                1e3,
            ),
        ]
        results = await run_cases(cases, config.reps)
    results[0].note = checks[0] + "; " + checks[1]
    results[2].note = checks[2]
    results[6].note = checks[3]
    return [results[0], *early, *results[1:]]
