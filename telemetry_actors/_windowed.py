"""Sliding-window aggregates over an experiment's stored events in O(n + w).

Prefix sums over the store's columns give any window's totals by one
subtraction, and two pointers that only move forward find each window's
bounds, so overlapping windows cost nothing extra.
"""

from __future__ import annotations

from itertools import accumulate

from ._results import WindowMetrics
from ._store import EventStore


def _check_size(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{label} must be int µs, got {value!r}")
    if value <= 0:
        raise ValueError(f"{label} must be > 0 µs, got {value}")
    return value


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
    timestamps = store.timestamps
    if not timestamps:
        return []
    # Prefix sums straight from the store's columns (rows without a value hold 0).
    latency_sum = list(accumulate(store.latencies, initial=0.0))
    latency_n = list(accumulate(store.has_latency, initial=0))
    cost_sum = list(accumulate(store.costs, initial=0.0))
    success_n = list(accumulate(store.successes, initial=0))
    failure_n = list(accumulate(store.failures, initial=0))

    last = timestamps[-1]
    size = len(timestamps)
    windows: list[WindowMetrics] = []
    low = high = 0
    start = timestamps[0]
    while start + window_us <= last + step_us:
        end = start + window_us
        while low < size and timestamps[low] < start:
            low += 1
        high = max(high, low)
        while high < size and timestamps[high] < end:
            high += 1
        if high > low:
            latencies = latency_n[high] - latency_n[low]
            windows.append(
                WindowMetrics(
                    window_start=start,
                    window_end=end,
                    event_count=high - low,
                    mean_latency=(latency_sum[high] - latency_sum[low]) / latencies
                    if latencies
                    else None,
                    total_cost=cost_sum[high] - cost_sum[low],
                    success_count=success_n[high] - success_n[low],
                    failure_count=failure_n[high] - failure_n[low],
                )
            )
            start += step_us
        elif low < size:
            # Empty window: jump straight to the first window that reaches the next event.
            steps = max(1, -(-(timestamps[low] - end + 1) // step_us))
            start += steps * step_us
        else:
            break
    return windows
