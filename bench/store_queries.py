"""Queries over a large store (1 M events, 1 ms apart) against pure-Python floors.

The store is filled through ``emit`` with an injected clock advancing 1 ms per
event; only the query calls are timed, through the public API. The floors get
prebuilt Python lists of the same values, extracted once from the stored events.

A row's second read re-encodes its payload for faster later reads (see
``telemetry_actors._payload``), so one-second windows read for the first and
the second time are timed first, as separate figures; the repeated
``Last(1 s)`` is the steady state of a live view re-reading its newest window.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from itertools import accumulate
from operator import mul
from typing import Any, TypeVar

from telemetry_actors import Last, Range, Runtime, emit

from ._timing import Case, Config, Measurement, run_cases
from ._workload import llm_event

T = TypeVar("T")

START_US = 1_700_000_000_000_000
STEP_US = 1_000


class SteppingClock:
    """A fake clock: each call returns the time and then advances it by ``step`` µs."""

    def __init__(self, now: int, step: int) -> None:
        self.now, self.step = now, step

    def __call__(self) -> int:
        now = self.now
        self.now += self.step
        return now


async def fill(rt: Runtime, clock: SteppingClock, n: int, chunk: int) -> str:
    """Start an experiment and emit ``n`` fresh LLM events into it, 1 ms apart."""
    experiment_id = (await rt.start_experiment("bench-store")).id
    clock.step = STEP_US
    for first in range(0, n, chunk):
        for i in range(first, min(first + chunk, n)):
            emit(*llm_event(i))
        await rt.flush()
    clock.step = 0  # freeze time: every "now" below is the same instant
    return experiment_id


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


def sort_and_sums(
    latencies: list[float], costs: list[float], successes: list[bool]
) -> dict[str, Any]:
    """The floor of calculate_metrics: sort the columns, sum them, count successes."""
    ordered = sorted(latencies)
    count = len(ordered)
    mean = math.fsum(ordered) / count
    variance = (math.fsum(map(mul, ordered, ordered)) - count * mean * mean) / (count - 1)
    return {
        "mean": mean,
        "std_dev": math.sqrt(max(variance, 0.0)),
        "p50": ordered[count // 2],
        "p99": ordered[int(count * 0.99)],
        "cost_total": math.fsum(costs),
        "cost_median": sorted(costs)[len(costs) // 2],
        "successful": successes.count(True),
        "failed": successes.count(False),
    }


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
        for key, ordinal in (("first", "first"), ("second", "second (re-encodes)"))
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
    clock = SteppingClock(START_US, 0)
    async with Runtime(clock=clock, mailbox_size=config.store_chunk + 1024) as rt:
        experiment_id = await fill(rt, clock, n, config.store_chunk)
        early = await early_reads(rt, experiment_id, config)
        events = await rt.get_all(experiment_id)
        timestamps = [event.timestamp for event in events]
        latencies = every_one([event.latency_ms for event in events], "latency")
        costs = every_one([event.cost_usd for event in events], "cost")
        successes = every_one([event.success for event in events], "success")
        now = clock.now
        window = Last(1, "seconds")

        scanned = full_scan(events, now - window.span_us, now)
        queried = await rt.query_window(experiment_id, window)
        floor_windows = prefix_sum_windows(
            timestamps, latencies, costs, successes, config.window_us, config.step_us
        )
        windows = await rt.windowed_metrics(experiment_id, config.window_us, config.step_us)
        checks = [
            f"stored {len(events):,} of {n:,} events",
            f"Last(1 s) returns {len(queried)} events (full scan {len(scanned)})",
            f"{len(windows)} windows (floor {len(floor_windows)})",
        ]

        async def last_queries() -> None:
            for _ in range(repeats):
                await rt.query_window(experiment_id, window)

        minutes = f"{config.window_us // 60_000_000} min / {config.step_us // 60_000_000} min"
        if config.window_us % 60_000_000:
            minutes = f"{config.window_us // 1_000_000} s / {config.step_us // 1_000_000} s"
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
                lambda: rt.windowed_metrics(experiment_id, config.window_us, config.step_us),
                1e3,
            ),
            Case(
                "query.windowed_floor",
                "prefix sums + bisect on prebuilt columns",
                "ms",
                lambda: prefix_sum_windows(
                    timestamps, latencies, costs, successes, config.window_us, config.step_us
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
                "sorted() + sums on prebuilt lists",
                "ms",
                lambda: sort_and_sums(latencies, costs, successes),
                1e3,
            ),
        ]
        results = await run_cases(cases, config.reps)
    results[0].note = checks[0] + "; " + checks[1]
    results[2].note = checks[2]
    return [results[0], *early, *results[1:]]
