"""Sliding-window aggregates over an experiment's columns in O(n + w).

Each window's rows are found by galloping forward from the previous
window's. The window edges cut the rows into segments; each segment is
summed once, exactly (as scaled ints, see :mod:`._exact_sum`), at numpy
speed, and a window's totals are prefix-sum differences over its segments.
Overlapping windows therefore cost nothing extra.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, pairwise

import numpy as np
import numpy.typing as npt

from .._results import WindowMetrics
from ._exact_sum import scaled_sum, to_float


def check_size(label: str, value: object) -> int:
    """``value`` when it is a positive int of µs.

    Raises:
        TypeError: not an int. ValueError: not positive.
    """
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


def windowed(
    stamps: npt.NDArray[np.int64],
    latency: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    success: npt.NDArray[np.int8],
    window_us: int,
    step_us: int,
    percentiles: Sequence[float] = (),
) -> list[WindowMetrics]:
    """Metrics per window ``[start, start + window_us)``, stepping by ``step_us``.

    Columns are in time order, NaN where a row has no latency or cost. The
    first window starts at the earliest event; windows continue while
    ``start + window_us <= last_timestamp + step_us``; empty windows are left
    out. With ``percentiles``, each window also gets its latency
    percentiles (numpy's linear method).

    Cost: O(n + w) for n rows and w non-empty windows, plus O(n log w) for
    percentiles.
    """
    windows = window_rows(stamps.tolist(), window_us, step_us)
    if not windows:
        return []
    edges = sorted({row for _, low, high in windows for row in (low, high)})
    position = {row: index for index, row in enumerate(edges)}
    has_latency = ~np.isnan(latency)
    latency_zeroed = np.where(has_latency, latency, 0.0)
    cost_zeroed = np.nan_to_num(cost, nan=0.0)
    segments = list(pairwise(edges))
    latency_sum = list(
        accumulate((scaled_sum(latency_zeroed[a:b]) for a, b in segments), initial=0)
    )
    latency_n = list(
        accumulate((int(np.count_nonzero(has_latency[a:b])) for a, b in segments), initial=0)
    )
    cost_sum = list(accumulate((scaled_sum(cost_zeroed[a:b]) for a, b in segments), initial=0))
    success_n = list(
        accumulate((int(np.count_nonzero(success[a:b] == 1)) for a, b in segments), initial=0)
    )
    failure_n = list(
        accumulate((int(np.count_nonzero(success[a:b] == 0)) for a, b in segments), initial=0)
    )
    window_percentiles = _percentiles(latency, windows, percentiles)
    results: list[WindowMetrics] = []
    for index, (start, low, high) in enumerate(windows):
        first, last = position[low], position[high]
        latency_count = latency_n[last] - latency_n[first]
        results.append(
            WindowMetrics(
                window_start=start,
                window_end=start + window_us,
                event_count=high - low,
                mean_latency=to_float(latency_sum[last] - latency_sum[first]) / latency_count
                if latency_count
                else None,
                total_cost=to_float(cost_sum[last] - cost_sum[first]),
                success_count=success_n[last] - success_n[first],
                failure_count=failure_n[last] - failure_n[first],
                latency_percentiles=window_percentiles[index] if percentiles else None,
            )
        )
    return results


def _percentiles(
    latency: npt.NDArray[np.float64],
    windows: list[tuple[int, int, int]],
    percentiles: Sequence[float],
) -> list[dict[float, float | None]]:
    if not percentiles:
        return []
    from ._window_percentiles import window_percentiles

    return window_percentiles(latency, [(low, high) for _, low, high in windows], percentiles)
