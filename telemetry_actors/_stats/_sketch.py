"""Live latency percentiles with a guaranteed relative error (a DDSketch-style sketch).

Exact percentiles need every value sorted; a live view wants p95 and p99 every
second without that. Values are counted in logarithmic buckets: bucket ``i``
holds the values in ``(gamma**(i-1), gamma**i]`` and stands for one value
within ``RELATIVE_ACCURACY`` of all of them, so a percentile read from the
buckets is within 1 % of the exact one while memory stays a few hundred
buckets whatever the count (Masson, Rim and Lee, "DDSketch", VLDB 2019).

Percentiles interpolate linearly between the two closest ranks with the same
:func:`~._percentile.percentile` as ``calculate_metrics``, between the
buckets' values for those ranks: a convex combination of two estimates each within 1 % of its
rank's value is within 1 % of the interpolated exact value. That bound is
relative, so it holds for values of one sign. The lowest and highest ranks
are the exact minimum and maximum, and every estimate lies between them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from ._percentile import percentile

#: Every estimate is within this fraction of the exact value it stands for.
RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_INVERSE_LOG_GAMMA = 1 / _LOG_GAMMA
#: log of the factor from a bucket's upper bound down to the value it stands for.
_LOG_CENTRE = math.log(2 / (1 + _GAMMA))
#: Magnitudes below this (1e-9 ms: a femtosecond) are counted as zero.
MIN_MAGNITUDE = 1e-9


def _bucket_value(index: int) -> float:
    """The value bucket ``index`` stands for: 2 gamma**index / (1 + gamma)."""
    try:
        return math.exp(index * _LOG_GAMMA + _LOG_CENTRE)
    except OverflowError:  # the top buckets of float range; clamped by the caller
        return math.inf


class QuantileSketch:
    """Counts of values in logarithmic buckets: O(buckets) memory whatever the count."""

    __slots__ = ("count", "maximum", "minimum", "negative", "positive", "zeros")

    def __init__(self) -> None:
        self.positive: Counter[int] = Counter()  # bucket index -> count, values > 0
        self.negative: Counter[int] = Counter()  # the same for -value, values < 0
        self.zeros = 0
        self.count = 0
        self.minimum = math.inf
        self.maximum = -math.inf

    def add_many(self, values: npt.ArrayLike) -> None:
        """Count finite values in. O(len(values)) at numpy speed, plus O(buckets touched)."""
        values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            return
        self.count += len(values)
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        positive = values[values >= MIN_MAGNITUDE]
        negative = values[values <= -MIN_MAGNITUDE]
        self.zeros += len(values) - len(positive) - len(negative)
        for counter, magnitudes in ((self.positive, positive), (self.negative, -negative)):
            if len(magnitudes):
                # ceil(log(v) / log(gamma)) for every value at once.
                indexes = np.ceil(np.log(magnitudes) * _INVERSE_LOG_GAMMA).astype(np.int64)
                buckets, counts = np.unique(indexes, return_counts=True)
                for bucket, count in zip(buckets.tolist(), counts.tolist(), strict=True):
                    counter[bucket] += count

    def merge(self, other: QuantileSketch) -> None:
        """Add another sketch's counts (another runtime's, say). O(buckets)."""
        self.positive.update(other.positive)
        self.negative.update(other.negative)
        self.zeros += other.zeros
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """The ``q``-quantiles (0 ≤ q ≤ 1), None for each while empty. O(buckets)."""
        if self.count == 0:
            return [None for _ in qs]
        ranked = _RankedBuckets(self)
        return [percentile(ranked, q) for q in qs]


class _RankedBuckets:
    """A sketch's estimate of its k-th smallest value, for :func:`percentile`."""

    __slots__ = ("_ends", "_sketch", "_values")

    def __init__(self, sketch: QuantileSketch) -> None:
        # Buckets in increasing value: negatives (largest magnitude first), zero, positives.
        values: list[float] = []
        counts: list[int] = []
        for index in sorted(sketch.negative, reverse=True):
            values.append(-_bucket_value(index))
            counts.append(sketch.negative[index])
        if sketch.zeros:
            values.append(0.0)
            counts.append(sketch.zeros)
        for index in sorted(sketch.positive):
            values.append(_bucket_value(index))
            counts.append(sketch.positive[index])
        self._sketch = sketch
        self._values = values
        self._ends = list(accumulate(counts))  # ranks below _ends[b] are in buckets 0..b

    def __len__(self) -> int:
        return self._sketch.count

    def __getitem__(self, rank: int, /) -> float:
        sketch = self._sketch
        if rank < 0:
            rank += sketch.count
        if rank == 0:
            return sketch.minimum  # the ends are known exactly
        if rank == sketch.count - 1:
            return sketch.maximum
        value = self._values[bisect_right(self._ends, rank)]
        return min(max(value, sketch.minimum), sketch.maximum)
