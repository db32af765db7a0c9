"""Exact windowed latency percentiles against vectorised numpy window means.

The latency column is the one the ``queries`` section stores (``llm_event``
durations, 1 ms apart, ``store_n`` events), handed over as a numpy array; the
windows are the runtime's (``window_rows`` with the configured window and
step, 5 min / 1 min in a full run). Timed side by side, on the same windows:

- ``window_percentiles(latency, windows, (50, 95, 99))`` (the auto path);
- the window means, vectorised two ways: sums of the segments between window
  edges (``np.add.reduceat``, as ``windowed_metrics`` combines segments) and
  ``np.nanmean`` over each window's slice;
- ``np.percentile`` over each window's slice, the obvious exact floor;
- the ``SortedList`` sweep on the same windows (one repetition: seconds);
- two other shapes of sweep at the same size: many short windows (50 rows
  stepping 10, where the matrix path wins) and long windows stepping a few
  rows (20 000 stepping 20, where the sweep wins).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from telemetry_actors._stats._window_percentiles import choose_path, window_percentiles
from telemetry_actors._stats._windowed import window_rows

from ._timing import Case, Config, Measurement, run_cases

PERCENTILES = (50, 95, 99)

Floats = npt.NDArray[np.float64]
Windows = list[tuple[int, int]]


def latency_column(n: int) -> Floats:
    """The latencies (ms) of ``llm_event(0) … llm_event(n - 1)``, as the store holds them."""
    return (200_000_000 + (np.arange(n, dtype=np.int64) * 7919) % 1_800_000_000) / 1e6


def segment_means(latency: Floats, windows: Windows) -> Floats:
    """Window means from per-segment sums (segments cut at every window edge)."""
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    edges = np.unique(bounds)
    present = ~np.isnan(latency)
    sums = np.add.reduceat(np.where(present, latency, 0.0), edges[:-1])
    counts = np.add.reduceat(present, edges[:-1], dtype=np.int64)
    total = np.concatenate(([0.0], np.cumsum(sums)))
    count = np.concatenate(([0], np.cumsum(counts)))
    first, end = np.searchsorted(edges, bounds[:, 0]), np.searchsorted(edges, bounds[:, 1])
    result: Floats = (total[end] - total[first]) / (count[end] - count[first])
    return result


def window_nanmeans(latency: Floats, windows: Windows) -> list[float]:
    """``np.nanmean`` of each window's slice."""
    return [float(np.nanmean(latency[first:end])) for first, end in windows]


def window_numpy_percentiles(latency: Floats, windows: Windows) -> list[Floats]:
    """``np.percentile`` over each window's values without NaN."""
    results = []
    for first, end in windows:
        values = latency[first:end]
        results.append(np.percentile(values[~np.isnan(values)], PERCENTILES))
    return results


def check(latency: Floats, windows: Windows) -> str:
    """Confirm the figures compare equal work: same windows, numpy's exact values."""
    got = window_percentiles(latency, windows, PERCENTILES)
    want = window_numpy_percentiles(latency, windows)
    same = all(
        [row[float(p)] for p in PERCENTILES] == expected.tolist()
        for row, expected in zip(got, want, strict=True)
    )
    return f"{len(windows)} windows, path {choose_path(latency.size, windows)}, " + (
        "equal to np.percentile" if same else "DIFFERENT from np.percentile"
    )


async def run(config: Config) -> list[Measurement]:
    """Time the percentiles next to the means on the runtime's windows, interleaved."""
    n = config.store_n
    latency = latency_column(n)
    stamps = range(0, n * 1_000, 1_000)
    windows = [
        (first, end) for _, first, end in window_rows(stamps, config.window_us, config.step_us)
    ]
    minutes = f"{config.window_us / 60e6:g} min / {config.step_us / 60e6:g} min"
    short = [(first, first + 50) for first in range(0, n - 50 + 1, 10)]
    sliding = [(first, first + 20_000) for first in range(0, max(1, n - 20_000 + 1), 20)]
    main = await run_cases(
        [
            Case(
                "window_percentiles.auto",
                f"window_percentiles p50/p95/p99 ({minutes}) at {n:,}",
                "ms",
                lambda: window_percentiles(latency, windows, PERCENTILES),
                1e3,
                note=check(latency, windows),
            ),
            Case(
                "window_percentiles.means_segments",
                "window means: np.add.reduceat over segments",
                "ms",
                lambda: segment_means(latency, windows),
                1e3,
            ),
            Case(
                "window_percentiles.means_slices",
                "window means: np.nanmean per window",
                "ms",
                lambda: window_nanmeans(latency, windows),
                1e3,
            ),
            Case(
                "window_percentiles.numpy",
                "np.percentile per window (exact floor)",
                "ms",
                lambda: window_numpy_percentiles(latency, windows),
                1e3,
            ),
        ],
        config.reps,
    )
    slow = await run_cases(
        [
            Case(
                "window_percentiles.sweep",
                f"the SortedList sweep on the same windows at {n:,}",
                "ms",
                lambda: window_percentiles(latency, windows, PERCENTILES, path="sweep"),
                1e3,
            ),
            Case(
                "window_percentiles.short",
                f"50-row windows stepping 10 rows at {n:,}",
                "ms",
                lambda: window_percentiles(latency, short, PERCENTILES),
                1e3,
                note=f"{len(short):,} windows, path {choose_path(n, short)}",
            ),
            Case(
                "window_percentiles.sliding",
                f"20 000-row windows stepping 20 rows at {n:,}",
                "ms",
                lambda: window_percentiles(latency, sliding, PERCENTILES),
                1e3,
                note=f"{len(sliding):,} windows, path {choose_path(n, sliding)}",
            ),
        ],
        1,
    )
    auto, by_segments, by_slices = (result.value for result in main[:3])
    main[1].note = f"percentiles ÷ these means: {auto / by_segments:.2f}"
    main[2].note = f"percentiles ÷ these means: {auto / by_slices:.2f}"
    return [*main, *slow]
