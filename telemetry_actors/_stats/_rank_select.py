"""Values at given ranks of the merge of sorted runs, without merging them.

Used by the segment path of ``window_percentiles``: a window spans several
sorted segments, and only a few of its ranks are wanted, so a strided sample
brackets each rank and only the values inside a bracket are sorted.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def select_ranks(
    buffer: Floats,
    runs: list[tuple[int, int]],
    total: int,
    ranks: Ints,
    pooled_below: int,
    stride: int | None,
) -> Floats:
    """The values at ``ranks`` (sorted, unique) of the merge of sorted runs of ``buffer``.

    Every stride-th value of each run forms a sorted sample. A rank falls
    either on a sample value or strictly between two neighbouring ones, where
    each run holds fewer than ``stride`` values: those are gathered and sorted
    (brackets are disjoint and increasing, so one sort serves all). Only the
    sample values near ``rank / stride`` are counted in the runs; if the one
    before the bracket is not among them (many ties), every sample value is.
    O(m (N/stride + stride·p) log N) for N values in m runs and p ranks.
    """
    views = [buffer[start : start + length] for start, length in runs]
    if not len(ranks):
        return np.empty(0)
    if len(views) == 1:
        return views[0][ranks]
    if total <= pooled_below:
        pooled = np.concatenate(views)
        pooled.sort()
        return pooled[ranks]
    stride = stride or max(2, math.isqrt(total // (len(views) * len(ranks))))
    sample = np.concatenate([view[stride - 1 :: stride] for view in views])
    sample.sort()
    # A sample value at sorted position p has at least (p + 1)·stride values at or
    # below it, so a rank's bracket is at position rank // stride or before; without
    # ties it is at most len(views) + 1 positions before.
    top = np.minimum(ranks // stride, len(sample) - 1)
    near = [np.arange(max(0, int(t) - len(views) - 2), int(t) + 1) for t in top.tolist()]
    positions = np.unique(np.concatenate([np.empty(0, dtype=np.int64), *near]))
    for attempt in range(2):
        if attempt:  # a bracket's floor was not counted: count every sample value
            positions = np.arange(len(sample))
        needles = sample[positions]
        below = np.zeros(len(positions), dtype=np.int64)  # values < each needle
        upto = np.zeros(len(positions), dtype=np.int64)  # values <= each needle
        for view in views:
            below += np.searchsorted(view, needles, "left")
            upto += np.searchsorted(view, needles, "right")
        # The first counted sample value with more than `rank` values at or below it;
        # it is the bracket when the sample value just before it was counted too.
        after = np.searchsorted(upto, ranks, "right")
        bracket = np.append(positions, len(sample))[after]
        floor_counted = (bracket == 0) | (
            (after > 0) & (np.append(positions, -1)[after - 1] == bracket - 1)
        )
        if floor_counted.all():
            break
    found = np.empty(len(ranks))
    hit = bracket < len(sample)
    hit[hit] = below[after[hit]] <= ranks[hit]
    found[hit] = sample[bracket[hit]]
    if hit.all():
        return found
    missed = ~hit
    brackets, which = np.unique(bracket[missed], return_inverse=True)
    # Values at or below each bracket's floor (the sample value before it).
    floor_at = np.searchsorted(positions, brackets - 1)
    before = np.where(brackets > 0, np.append(upto, 0)[floor_at], 0)
    has_low, has_high = brackets > 0, brackets < len(sample)
    firsts = np.zeros((len(brackets), len(views)), dtype=np.int64)
    ends = np.empty((len(brackets), len(views)), dtype=np.int64)
    for column, (view, (start, length)) in enumerate(zip(views, runs, strict=True)):
        firsts[has_low, column] = np.searchsorted(view, sample[brackets[has_low] - 1], "right")
        ends[:, column] = length
        ends[has_high, column] = np.searchsorted(view, sample[brackets[has_high]], "left")
        firsts[:, column] += start
        ends[:, column] += start
    # Gather rows [first, end) of every (bracket, run), bracket-major, in one index.
    sizes = ends - firsts
    lengths = sizes.ravel()
    shift = np.cumsum(lengths) - lengths
    gathered = buffer[np.repeat(firsts.ravel() - shift, lengths) + np.arange(int(lengths.sum()))]
    gathered.sort()
    bracket_start = np.cumsum(sizes.sum(axis=1)) - sizes.sum(axis=1)
    found[missed] = gathered[bracket_start[which] + ranks[missed] - before[which]]
    return found
