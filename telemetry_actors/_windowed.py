"""Sliding-window aggregates over an experiment's stored events in O(n + w).

Each window's rows are found by galloping forward from the previous
window's. The window edges cut the rows into segments; each segment is
summed once, at C speed, and a window's totals are the prefix-sum
difference over its segments. Overlapping windows therefore cost nothing
extra, and no Python code runs per event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, pairwise
from math import fsum

from ._results import WindowMetrics
from ._store import FAILURE, HAS_LATENCY, SUCCESS, EventStore


def _check_size(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{label} must be int µs, got {value!r}")
    if value <= 0:
        raise ValueError(f"{label} must be > 0 µs, got {value}")
    return value


def _gallop(stamps: Sequence[int], value: int, low: int, size: int) -> int:
    """The first row at or after ``low`` whose time stamp is >= ``value``.

    Exponential search from ``low``: O(log d) for a target d rows ahead, so a
    sweep whose ``low`` only moves forward costs O(n + w) in all.
    """
    step = 1
    high = low
    while high < size and stamps[high] < value:
        low = high + 1
        high += step
        step *= 2
    return bisect_left(stamps, value, low, min(high, size))


def window_rows(stamps: Sequence[int], window_us: int, step_us: int) -> list[tuple[int, int, int]]:
    """(start, first row, end row) of every non-empty window, per the windowing rule.

    Windows are ``[start, start + window_us)``; the first starts at the earliest
    event; windows continue while ``start + window_us <= last + step_us``.
    O(n + w): both row bounds only move forward, by galloping.
    """
    size = len(stamps)
    if size == 0:
        return []
    last = stamps[-1]
    windows: list[tuple[int, int, int]] = []
    low = high = 0
    start = stamps[0]
    while start + window_us <= last + step_us:
        end = start + window_us
        low = _gallop(stamps, start, low, size)
        high = _gallop(stamps, end, max(high, low), size)
        if high > low:
            windows.append((start, low, high))
            start += step_us
        elif low < size:
            # Empty window: jump straight to the first window that reaches the next event.
            start += max(1, -(-(stamps[low] - end + 1) // step_us)) * step_us
        else:
            break
    return windows


def windowed_metrics(store: EventStore, window_us: int, step_us: int) -> list[WindowMetrics]:
    """Metrics per window ``[start, start + window_us)``, stepping by ``step_us``.

    The first window starts at the earliest event; windows continue while
    ``start + window_us <= last_timestamp + step_us``; empty windows are left out.

    Cost: O(n + w) for n events and w non-empty windows.

    Raises:
        ValueError: a non-positive size.
        TypeError: a size that is not an int.
    """
    window_us = _check_size("window_us", window_us)
    step_us = _check_size("step_us", step_us)
    windows = window_rows(store.timestamps, window_us, step_us)
    if not windows:
        return []
    # Every row index where some window starts or ends cuts the rows into segments.
    edges = sorted({row for _, low, high in windows for row in (low, high)})
    position = {row: index for index, row in enumerate(edges)}
    latencies, costs = store.latencies, store.costs
    has_latency = store.mask(HAS_LATENCY)
    successes, failures = store.mask(SUCCESS), store.mask(FAILURE)
    segments = list(pairwise(edges))
    # Prefix sums over segments (rows without a value hold 0 in their column).
    latency_sum = list(accumulate((fsum(latencies[a:b]) for a, b in segments), initial=0.0))
    latency_n = list(accumulate((has_latency.count(1, a, b) for a, b in segments), initial=0))
    cost_sum = list(accumulate((fsum(costs[a:b]) for a, b in segments), initial=0.0))
    success_n = list(accumulate((successes.count(1, a, b) for a, b in segments), initial=0))
    failure_n = list(accumulate((failures.count(1, a, b) for a, b in segments), initial=0))
    results: list[WindowMetrics] = []
    for start, low, high in windows:
        first, last = position[low], position[high]
        latency_count = latency_n[last] - latency_n[first]
        results.append(
            WindowMetrics(
                window_start=start,
                window_end=start + window_us,
                event_count=high - low,
                mean_latency=(latency_sum[last] - latency_sum[first]) / latency_count
                if latency_count
                else None,
                total_cost=cost_sum[last] - cost_sum[first],
                success_count=success_n[last] - success_n[first],
                failure_count=failure_n[last] - failure_n[first],
            )
        )
    return results
