"""Exact latency percentiles of every window of a sweep, equal to ``numpy.percentile``.

Three ways to the same numbers, chosen per call by an estimate of their cost:

- **segments** (few, long windows, the usual 5 min / 1 min sweep): the window
  edges cut the rows into segments; each segment is sorted once, in place,
  by numpy. A window is then m sorted runs, and each needed rank is found
  without merging them: every stride-th value of each run forms a sorted
  sample; the sample values near the rank are counted in the runs
  (``searchsorted``), which brackets the rank between two neighbouring
  sample values, and only the values between them (fewer than m x stride)
  are gathered and sorted. O(n log s) to sort segments of s rows, plus
  O(√(N m p) log N) per window of N values for p percentiles.
- **matrix** (many short windows): every window becomes a row of a
  NaN-padded matrix, sorted along its rows in one call. O(W L log L) for W
  windows of at most L rows, no Python per window.
- **sweep** (long windows stepping a few rows, where windows span many
  segments): rows enter and leave a ``SortedList`` one by one, and each
  window reads its ranks. O(n log w + W p log w) for p percentiles.

Measured at 1 M events 1 ms apart (the bench's ``llm_event`` latencies),
5-minute windows stepping 1 minute (13 windows), p50, p95 and p99; medians
of 9 runs on 2 cores shared with other jobs (CPython 3.11, numpy 2.4;
``bench/window_percentiles.py``):

- segments (the auto path): 6.5 ms, equal to ``np.percentile`` per window;
- window means by ``np.nanmean`` per window: 4.1 ms (percentiles 1.6x);
- window means by ``np.add.reduceat`` over the segments: 2.1 ms (3.2x).
  Sorting the million values alone takes 4 ms, so no sort-based method
  comes within 2x of these means; counting against sampled pivots instead
  needs more passes over the data than the sort costs;
- ``np.percentile`` per window: 19 ms; the sweep on these windows: 1.6 s.

Other shapes at 1 M rows, paths alone: 50-row windows stepping 10 rows,
matrix 0.07 s (segments 2.2 s, sweep 1.7 s); 5000-row windows stepping 50
rows, sweep 1.9 s (segments 42 s). The cost model below picks the fastest
path in all ten shapes measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import repeat
from numbers import Real
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from ._rank_select import select_ranks
from ._rolling import linear, sorted_values

Floats: TypeAlias = npt.NDArray[np.float64]
Ints: TypeAlias = npt.NDArray[np.int64]
#: Percentile values (one row per window, one column per quantile) and counts of values.
Selected: TypeAlias = tuple[Floats, Ints]
PathName: TypeAlias = Literal["auto", "matrix", "segments", "sweep"]

#: The matrix path is offered only for windows of at most this many rows.
MATRIX_MAX_ROWS = 512
#: Matrix cells sorted per chunk (bounds the padded matrix to 32 MiB).
MATRIX_CHUNK_CELLS = 1 << 22
#: The segment path merges and sorts a window outright up to this many values.
POOLED_BELOW = 4096

# Cost model, in ns, fitted to timings of the three paths on 1 M rows and ten
# shapes of sweep (see the module notes). Only the ratios matter: the
# cheapest estimate wins, and the paths differ by 10x or more where it counts.
_MATRIX_CELL_NS = 2.5  # copy + row sort per cell, per log2 of the row length
_SEGMENT_ROW_NS = 0.5  # in-place sort per row, per log2 of the segment length
_SEGMENT_NS = 4_000.0  # per segment sorted (call overhead)
_WINDOW_NS = 25_000.0  # per window (ranks, pooling, interpolation)
_RUN_NS = 2_000.0  # per run of a window
_BRACKET_NS = 100_000.0  # per window too large to pool (sample, counts, gather)
_BRACKET_RUN_NS = 20_000.0  # per run of such a window
_SWEEP_LEAVE_NS = 1_500.0  # SortedList.remove per row leaving a window
_SWEEP_ENTER_NS = 300.0  # rows entering a window that overlaps the last one
_SWEEP_BULK_NS = 100.0  # rows of a window that starts afresh (bulk sorted)
_SWEEP_WINDOW_NS = 5_000.0  # per window
_SWEEP_READ_NS = 1_000.0  # per window and percentile


def window_percentiles(
    latency: npt.ArrayLike,
    windows: Sequence[tuple[int, int]],
    percentiles: Sequence[float],
    *,
    path: PathName = "auto",
) -> list[dict[float, float | None]]:
    """The latency percentiles of each window, as ``numpy.percentile`` computes them.

    Args:
        latency: float64 column in time order, NaN where an event has no latency.
        windows: ``(first_row, end_row)`` half-open row ranges, non-decreasing in
            both ends (they may overlap), as ``window_rows`` yields them.
        percentiles: numbers in [0, 100]; duplicates collapse into one key.
        path: ``"auto"`` picks the cheapest strategy; the others force one
            (for tests and benchmarks).

    Returns:
        One ``{float(p): value}`` per window, each value equal bit for bit to
        ``np.percentile(values_without_nan, p)``, or ``None`` for every p when
        the window has no latency.

    Raises:
        ValueError: a percentile that is not a number in [0, 100], a window
            out of range or out of order, a latency column that is not 1-D,
            an unknown path.

    Cost: O(n log w) for n rows and windows of w rows (see the module notes).

    Example:
        >>> window_percentiles([3.0, float("nan"), 1.0, 2.0], [(0, 2), (1, 4)], (50, 100))
        [{50.0: 3.0, 100.0: 3.0}, {50.0: 1.5, 100.0: 2.0}]
    """
    keys = list(dict.fromkeys(_check_percentile(p) for p in percentiles))
    column = np.asarray(latency, dtype=np.float64)
    if column.ndim != 1:
        raise ValueError(f"latency must be one-dimensional, got shape {column.shape}")
    bounds = _check_windows(windows, column.size)
    if path != "auto" and path not in PATHS:
        raise ValueError(f"path must be one of {['auto', *PATHS]}, got {path!r}")
    if not keys or not len(bounds):
        return [{} for _ in range(len(bounds))]
    chosen = _choose(column.size, bounds, len(keys)) if path == "auto" else path
    values, counts = PATHS[chosen](column, bounds, [p / 100 for p in keys])
    # One dict per window is most of the cost for many short windows: build them in C.
    results: list[dict[float, float | None]] = list(
        map(dict, map(zip, repeat(keys), values.tolist()))
    )
    for empty in np.flatnonzero(counts == 0).tolist():
        results[empty] = dict.fromkeys(keys)
    return results


def _check_percentile(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, Real):
        raise ValueError(f"percentile {p!r} is not a number")
    value = float(p)
    if not 0 <= value <= 100:
        raise ValueError(f"percentile {p!r} is outside [0, 100]")
    return value


def _check_windows(windows: Sequence[tuple[int, int]] | Ints, size: int) -> Ints:
    """The windows as an (W, 2) int64 array, checked in O(W)."""
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    firsts, ends = bounds[:, 0], bounds[:, 1]

    def name(index: int) -> str:
        return f"window {index} ({int(firsts[index])}, {int(ends[index])})"

    for bad in np.flatnonzero(ends < firsts)[:1]:
        raise ValueError(f"{name(bad)} ends before it starts")
    for bad in np.flatnonzero((firsts < 0) | (ends > size))[:1]:
        raise ValueError(f"{name(bad)} is outside rows 0..{size}")
    for bad in np.flatnonzero(np.diff(firsts) < 0)[:1]:
        raise ValueError(f"{name(bad + 1)} starts before window {bad}")
    for bad in np.flatnonzero(np.diff(ends) < 0)[:1]:
        raise ValueError(f"{name(bad + 1)} ends before window {bad}")
    return bounds


def choose_path(size: int, windows: Sequence[tuple[int, int]], percentiles: int = 3) -> str:
    """The path ``window_percentiles`` takes for ``size`` rows and these windows. O(W)."""
    return _choose(size, _check_windows(windows, size), percentiles)


def _choose(size: int, bounds: Ints, percentiles: int) -> str:
    """The path of least estimated cost (constants above). O(W)."""
    firsts, ends = bounds[:, 0], bounds[:, 1]
    lengths = ends - firsts
    edges = np.unique(bounds)
    runs = np.searchsorted(edges, ends) - np.searchsorted(edges, firsts)
    previous_first = np.concatenate(([0], firsts[:-1]))
    previous_end = np.concatenate(([0], ends[:-1]))
    # Rows in any window (the union): segments sort each once, the sweep adds each once.
    entering = np.maximum(ends - np.maximum(firsts, previous_end), 0)
    afresh = firsts >= previous_end  # the sweep clears and bulk-loads these windows
    leaving = np.where(afresh, 0, firsts - previous_first)
    covered = int(entering.sum())
    bracketed = (runs > 1) & (lengths > POOLED_BELOW)
    segment_rows = max(2.0, covered / max(1, len(edges)))
    costs = {
        "segments": covered * _SEGMENT_ROW_NS * math.log2(segment_rows)
        + len(edges) * _SEGMENT_NS
        + len(bounds) * _WINDOW_NS
        + int(runs.sum()) * _RUN_NS
        + int(bracketed.sum()) * _BRACKET_NS
        + int(runs[bracketed].sum()) * _BRACKET_RUN_NS,
        "sweep": int(leaving.sum()) * _SWEEP_LEAVE_NS
        + int(entering[~afresh].sum()) * _SWEEP_ENTER_NS
        + int(lengths[afresh].sum()) * _SWEEP_BULK_NS
        + len(bounds) * (_SWEEP_WINDOW_NS + percentiles * _SWEEP_READ_NS),
    }
    longest = int(lengths.max(initial=0))
    if longest <= MATRIX_MAX_ROWS:
        cells = len(bounds) * longest
        costs["matrix"] = cells * _MATRIX_CELL_NS * math.log2(max(2, longest))
    return min(costs, key=costs.__getitem__)


# ---------------------------------------------------------------- interpolation


def _ranks(counts: Ints, quantiles: Sequence[float]) -> tuple[Ints, Ints, Floats]:
    """numpy's neighbouring ranks and weights for each window (row) and quantile (column).

    Follows ``numpy.lib._function_base_impl._quantile`` for the linear method:
    virtual index (n - 1) q; at or beyond the top, both neighbours are the
    last value and gamma is measured from index -1.
    """
    last = (counts - 1)[:, None]
    virtual = last * np.asarray(quantiles, dtype=np.float64)[None, :]
    top = virtual >= last
    low = np.floor(virtual).astype(np.int64)
    gamma = virtual - np.where(top, -1, low)
    low = np.where(top, last, low)
    high = np.where(top, last, low + 1)
    empty = counts == 0
    low[empty] = high[empty] = 0
    return low, high, gamma


def _lerp(below: Floats, above: Floats, gamma: Floats) -> Floats:
    """numpy's ``_lerp``, elementwise (inf - inf gives NaN there too, silently here)."""
    with np.errstate(invalid="ignore"):
        difference = above - below
        return np.where(gamma >= 0.5, above - difference * (1 - gamma), below + difference * gamma)


def _valid_counts(latency: Floats, firsts: Ints, ends: Ints) -> Ints:
    present = np.concatenate(([0], np.cumsum(~np.isnan(latency), dtype=np.int64)))
    return present[ends] - present[firsts]


# ---------------------------------------------------------------- matrix


def by_matrix(
    latency: Floats, windows: Sequence[tuple[int, int]] | Ints, quantiles: Sequence[float]
) -> Selected:
    """Each window a row of a NaN-padded matrix, sorted along rows. O(W L log L), in chunks."""
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    firsts, ends = bounds[:, 0], bounds[:, 1]
    counts = _valid_counts(latency, firsts, ends)
    low, high, gamma = _ranks(counts, quantiles)
    lengths = ends - firsts
    longest = max(1, int(lengths.max(initial=0)))
    # Row r of the view is latency[r : r + longest], NaN past the end: a window's
    # row is a copy of one view row, its tail blanked when the window is shorter.
    rows = sliding_window_view(np.concatenate((latency, np.full(longest, np.nan))), longest)
    columns = np.arange(longest)
    below = np.empty(low.shape)
    above = np.empty(low.shape)
    step = max(1, MATRIX_CHUNK_CELLS // longest)
    for start in range(0, len(bounds), step):
        chunk = slice(start, start + step)
        block = rows[firsts[chunk]]
        short = lengths[chunk] < longest
        if short.any():
            block[short] = np.where(columns < lengths[chunk][short, None], block[short], np.nan)
        block.sort(axis=1)  # NaN sorts last: each row's values come first
        picks = np.arange(block.shape[0])[:, None]
        below[chunk] = block[picks, low[chunk]]
        above[chunk] = block[picks, high[chunk]]
    return _lerp(below, above, gamma), counts


# ---------------------------------------------------------------- segments


def by_segments(
    latency: Floats,
    windows: Sequence[tuple[int, int]] | Ints,
    quantiles: Sequence[float],
    *,
    pooled_below: int = POOLED_BELOW,
    stride: int | None = None,
) -> Selected:
    """Sort each segment between window edges once; select ranks across a window's runs.

    Args:
        latency: the column (NaN: no latency).
        windows: half-open row ranges, non-decreasing in both ends.
        quantiles: in [0, 1].
        pooled_below: windows with at most this many values are merged and
            sorted outright.
        stride: sample every stride-th value of each run (default √(N/m));
            tests force small strides to exercise the bracketing on small windows.

    Cost: O(n log s) for segments of s rows, plus O(m √(N/m) log N) per window.
    """
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    edges = np.unique(bounds)
    segment_of_first = np.searchsorted(edges, bounds[:, 0])
    segment_of_end = np.searchsorted(edges, bounds[:, 1])
    # Sort only the segments some window covers (a difference array marks them).
    cover = np.zeros(len(edges), dtype=np.int64)
    np.add.at(cover, segment_of_first, 1)
    np.add.at(cover, segment_of_end, -1)
    starts = edges.tolist()
    valid = [0] * len(starts)  # per segment: its values (the rows without NaN)
    buffer = np.empty_like(latency)
    for segment in np.flatnonzero(np.cumsum(cover)[:-1]).tolist():
        a, b = starts[segment], starts[segment + 1]
        run = buffer[a:b]
        run[:] = latency[a:b]
        run.sort()  # NaN sorts last
        valid[segment] = int(np.searchsorted(run, np.nan))
    present = np.concatenate(([0], np.cumsum(valid, dtype=np.int64)))
    counts = present[segment_of_end] - present[segment_of_first]
    low, high, gamma = _ranks(counts, quantiles)
    below = np.empty(low.shape)
    above = np.empty(low.shape)
    width = low.shape[1]
    for w in np.flatnonzero(counts).tolist():
        segments = range(int(segment_of_first[w]), int(segment_of_end[w]))
        runs = [(starts[s], valid[s]) for s in segments if valid[s]]
        wanted, where = np.unique(np.concatenate((low[w], high[w])), return_inverse=True)
        values = select_ranks(buffer, runs, int(counts[w]), wanted, pooled_below, stride)[where]
        below[w], above[w] = values[:width], values[width:]
    return _lerp(below, above, gamma), counts


# ---------------------------------------------------------------- sweep


def by_sweep(
    latency: Floats, windows: Sequence[tuple[int, int]] | Ints, quantiles: Sequence[float]
) -> Selected:
    """Rows enter and leave a ``SortedList`` one by one. O(n log w + W p log w)."""
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    values = latency.tolist()
    ordered = sorted_values()
    result = np.empty((len(bounds), len(quantiles)))
    counts = np.zeros(len(bounds), dtype=np.int64)
    low = high = 0  # rows [low, high) are in `ordered`
    for w, (first, end) in enumerate(bounds.tolist()):
        if first >= high:  # disjoint from the previous window: start afresh
            ordered.clear()
            low = high = first
        ordered.update([v for v in values[high:end] if v == v])  # v == v: not NaN
        for value in values[low:first]:
            if value == value:
                ordered.remove(value)
        low, high = first, max(high, end)
        counts[w] = len(ordered)
        if counts[w]:
            result[w] = [linear(ordered, q) for q in quantiles]
    return result, counts


PATHS: dict[str, Callable[[Floats, Ints, Sequence[float]], Selected]] = {
    "matrix": by_matrix,
    "segments": by_segments,
    "sweep": by_sweep,
}
