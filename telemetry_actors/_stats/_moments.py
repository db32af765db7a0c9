"""Count, exact sum, mean, sample variance, min and max of a stream, merged batch by batch.

A batch's moments are computed with numpy (two passes), then merged into
the running ones with Chan, Golub and LeVeque's formula, the same merge
that combines the states of several runtimes. The mean is the exactly
rounded sum over the count, so it equals the post-hoc mean bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._exact_sum import ExactSum, exact_sum


class Moments:
    """Running moments of finite values. ``add`` O(n) at numpy speed, reads O(1)."""

    __slots__ = ("count", "m2", "max", "min", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = ExactSum()
        self.m2 = 0.0  # sum of squared deviations from the mean
        self.min = math.inf
        self.max = -math.inf

    @property
    def mean(self) -> float | None:
        """The mean (exact sum / count), None while empty."""
        return self.total.value / self.count if self.count else None

    def add(self, values: npt.NDArray[np.float64]) -> None:
        """Fold a batch of finite values in."""
        n = len(values)
        if n == 0:
            return
        batch_total = exact_sum(values)
        batch_mean = batch_total / n
        with np.errstate(over="ignore", invalid="ignore"):  # inf beyond the float range
            deviations = values - batch_mean
            # Not np.dot: BLAS wakes OpenBLAS threads that then spin on other
            # cores (most of a core during a flood; tests/test_other_cores.py).
            batch_m2 = float(np.square(deviations).sum())
        self.merge_parts(n, batch_total, batch_m2, float(values.min()), float(values.max()))
        self.total.add(values)
        self.count += n

    def merge_parts(
        self, n: int, batch_total: float, batch_m2: float, low: float, high: float
    ) -> None:
        """Merge a batch's (count, total, m2, min, max) into ``m2``, ``min``, ``max``.

        The caller adds the batch to ``count`` and ``total`` afterwards.
        """
        if self.count:
            mean = self.total.value / self.count
            delta = batch_total / n - mean
            self.m2 += batch_m2 + delta * delta * self.count * n / (self.count + n)
        else:
            self.m2 = batch_m2
        self.min = min(self.min, low)
        self.max = max(self.max, high)

    def merge(self, other: Moments) -> None:
        """Merge another stream's moments (another runtime's, say)."""
        if other.count == 0:
            return
        self.merge_parts(other.count, other.total.value, other.m2, other.min, other.max)
        self.total.merge(other.total)
        self.count += other.count

    def std_dev(self) -> float | None:
        """Sample standard deviation (n - 1); 0.0 for one value, None for none."""
        if self.count == 0:
            return None
        if self.count == 1 or self.min == self.max:
            return 0.0
        return math.sqrt(max(self.m2, 0.0) / (self.count - 1))
