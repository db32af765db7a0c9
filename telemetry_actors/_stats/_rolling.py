"""Order statistics of values kept sorted in a ``SortedList``, exact as numpy computes them.

A sliding window adds its newest value and removes its oldest in O(log w)
each; the statistics below then read a few ranks in O(log w) each
(O(log² w) for the median absolute deviation). Every result equals, bit for
bit, what numpy returns for the same values in an array:
``np.percentile(..., q * 100)`` (linear method), ``np.median`` and
``np.median(np.abs(v - np.median(v)))``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, cast

from sortedcontainers import SortedList


class Sorted(Protocol):
    """What is used of ``sortedcontainers.SortedList`` (it ships no type hints)."""

    def __len__(self) -> int: ...

    def __getitem__(self, rank: int, /) -> float: ...

    def add(self, value: float, /) -> None: ...

    def remove(self, value: float, /) -> None: ...

    def update(self, values: Iterable[float], /) -> None: ...

    def clear(self) -> None: ...

    def bisect_left(self, value: float, /) -> int: ...

    def bisect_right(self, value: float, /) -> int: ...


def sorted_values(values: Iterable[float] = ()) -> Sorted:
    """A new ``SortedList`` of ``values``: O(n log n) to build, picklable."""
    return cast(Sorted, SortedList(values))


def interpolate(below: float, above: float, gamma: float) -> float:
    """numpy's ``_lerp``: from the nearer neighbour, so that exact values stay exact."""
    difference = above - below
    if gamma >= 0.5:
        return above - difference * (1 - gamma)
    return below + difference * gamma


def linear(ordered: Sorted, q: float) -> float:
    """The ``q``-quantile (0..1) of the values, as ``np.percentile(values, 100 * q)``.

    Mirrors numpy step for step, including its reading of the top rank
    (both neighbours the largest value, ``gamma`` measured from index -1),
    so that results agree bit for bit, infinities included. O(log n).
    """
    last = len(ordered) - 1
    virtual = last * q
    if virtual >= last:
        top = ordered[-1]
        return interpolate(top, top, virtual + 1)
    low = int(virtual)
    return interpolate(ordered[low], ordered[low + 1], virtual - low)


def median(ordered: Sorted) -> float:
    """The median as ``np.median``: the mean of the two middle values when n is even. O(log n)."""
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2


def absolute_deviation_median(ordered: Sorted, center: float) -> float:
    """The median of ``|v - center|`` over the values (the MAD when ``center`` is the median).

    The distances form two sorted runs, those of the values below ``center``
    (read leftwards) and of the others (read rightwards); the middle ranks of
    their merge are found by bisection without building either run.
    O(log² n): O(log n) probes of O(log n) each.
    """
    n = len(ordered)
    split = ordered.bisect_left(center)

    def left(i: int) -> float:  # i-th smallest distance of a value below center
        return center - ordered[split - 1 - i]

    def right(j: int) -> float:  # j-th smallest distance of a value at or above center
        return ordered[split + j] - center

    k = (n - 1) // 2
    # i distances from the left run and k + 1 - i from the right are the k + 1
    # smallest for the least i whose next left distance is not below the last
    # right one taken.
    low, high = max(0, k + 1 - (n - split)), min(k + 1, split)
    while low < high:
        i = (low + high) // 2
        if left(i) >= right(k - i):
            high = i
        else:
            low = i + 1
    i, j = low, k + 1 - low
    kth = max(left(i - 1) if i else 0.0, right(j - 1) if j else 0.0)
    if n % 2:
        return kth
    following = min(
        left(i) if i < split else float("inf"), right(j) if j < n - split else float("inf")
    )
    return (kth + following) / 2
