"""Percentiles by linear interpolation between closest ranks, as numpy's default.

:func:`linear_percentiles` is numpy's own; :func:`percentile` follows it step
for step over any ranked values (the live sketch's buckets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt


class Ranked(Protocol):
    """Values by rank: ``ranked[k]`` is the k-th smallest (``-1``: the largest)."""

    def __len__(self) -> int: ...

    def __getitem__(self, rank: int, /) -> float: ...


def percentile(ordered: Ranked, q: float) -> float:
    """The ``q``-quantile (0..1) of sorted data, interpolating linearly.

    Follows numpy's default method step for step, so results match it bit for bit.
    """
    position = (len(ordered) - 1) * q
    if position >= len(ordered) - 1:
        return ordered[-1]
    low = math.floor(position)
    below, above = ordered[low], ordered[low + 1]
    fraction = position - low
    # Interpolating from the nearer neighbour keeps exact values exact.
    if fraction >= 0.5:
        return above - (above - below) * (1 - fraction)
    return below + (above - below) * fraction


def linear_percentiles(
    values: npt.NDArray[np.float64], percentiles: Sequence[float]
) -> list[float]:
    """``numpy.percentile(values, percentiles)`` (linear method) as floats.

    O(n) per call: numpy partitions once for all the ranks needed. Where
    numpy's interpolation overflows (neighbours near ±1.8e308 of opposite
    signs: ``above - below`` is infinite), the value is interpolated as
    ``below * (1 - t) + above * t`` instead, which stays finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = [float(value) for value in np.percentile(values, list(percentiles))]
    if all(math.isfinite(value) for value in result) or not bool(np.isfinite(values).all()):
        return result
    ordered = np.sort(values)
    for index, percentile in enumerate(percentiles):
        if not math.isfinite(result[index]):
            position = (len(ordered) - 1) * percentile / 100
            low = min(math.floor(position), len(ordered) - 1)
            high = min(low + 1, len(ordered) - 1)
            t = position - low
            result[index] = float(ordered[low]) * (1 - t) + float(ordered[high]) * t
    return result
