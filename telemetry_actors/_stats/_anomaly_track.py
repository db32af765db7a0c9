"""One metric's trailing window of a live detector: its scores in O(log w) per value.

Rolling median, MAD and quartiles over a ``SortedList`` window (the value
leaving the window removed); mean/variance and the EWMA in O(1).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TypeAlias

from ._anomaly import (
    _CANCELLATION,
    _INF,
    _MAD_MARGIN,
    _MAD_SCALE,
    DEFAULT_THRESHOLDS,
    AnomalyDetection,
)
from ._rolling import Sorted, absolute_deviation_median, linear, median, sorted_values

#: A flag before it becomes an Anomaly: (method, score, threshold, center).
Flag: TypeAlias = tuple[str, float, float, float]


class _Track:
    """One metric's trailing window and running moments, as one detector keeps them."""

    __slots__ = (
        "alpha",
        "checks",
        "ewma",
        "ewvar",
        "m2",
        "mean",
        "moments",
        "ordered",
        "peak",
        "recent",
        "seen",
        "since_recount",
        "warmup",
        "window",
    )

    def __init__(self, spec: AnomalyDetection) -> None:
        self.checks = tuple(
            (method, spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLDS[method])
            for method in spec.methods
        )
        self.window, self.warmup = spec.window, spec.warmup
        self.alpha = 2 / (spec.window + 1)
        self.seen = 0
        windowed = any(method != "ewma" for method in spec.methods)
        self.recent: deque[float] | None = deque() if windowed else None
        self.ordered: Sorted | None = sorted_values() if windowed else None
        self.moments = "zscore" in spec.methods  # keep Welford's running mean and m2
        self.mean = self.m2 = self.peak = 0.0
        self.since_recount = 0
        self.ewma = self.ewvar = 0.0

    def push(self, x: float) -> list[Flag]:
        """Score ``x`` against the state before it, then add it. O(log w) (see module notes).

        The hot path of ingest: the ewma score and every update are inlined by hand.
        """
        flags: list[Flag] = []
        if self.seen >= self.warmup:
            for method, threshold in self.checks:
                if method == "mad":
                    flag = self._mad(x, threshold)
                elif method == "ewma":
                    if x == self.ewma:
                        continue
                    score = abs(x - self.ewma) / math.sqrt(self.ewvar) if self.ewvar > 0 else _INF
                    flag = (score, threshold, self.ewma) if score > threshold else None
                elif method == "iqr":
                    flag = self._iqr(x, threshold)
                else:
                    flag = self._zscore(x, threshold)
                if flag is not None:
                    flags.append((method, *flag))
        self.seen += 1
        recent, ordered = self.recent, self.ordered
        if recent is not None and ordered is not None:
            recent.append(x)
            ordered.add(x)
            leaving = len(recent) > self.window
            if leaving:
                y = recent.popleft()
                ordered.remove(y)
            if self.moments:
                self._move(x, y if leaving else None)
        if self.seen == 1:
            self.ewma = x
        else:
            delta = x - self.ewma
            self.ewma += self.alpha * delta
            self.ewvar = (1 - self.alpha) * (self.ewvar + self.alpha * delta * delta)
        return flags

    def _move(self, x: float, y: float | None) -> None:
        """Welford's update for ``x`` entering, its inverse for ``y`` leaving; O(1) amortised."""
        assert self.recent is not None
        n = len(self.recent) + (y is not None)  # the count with x in and y still in
        delta = x - self.mean
        self.mean += delta / n
        self.m2 += delta * (x - self.mean)
        if self.m2 > self.peak:
            self.peak = self.m2
        if y is None:
            return
        delta = y - self.mean
        self.mean -= delta / (n - 1)
        self.m2 -= delta * (y - self.mean)
        self.since_recount += 1
        # Rounding errors are relative to the largest sum of squares held since the
        # last recount: recount when that peak dwarfs the sum, and every window
        # removals anyway (O(w) each time: O(1) amortised).
        if self.m2 < self.peak * _CANCELLATION or self.since_recount >= self.window:
            self._recount()

    def _recount(self) -> None:
        assert self.recent is not None
        self.mean = math.fsum(self.recent) / len(self.recent)
        self.m2 = self.peak = math.fsum((v - self.mean) ** 2 for v in self.recent)
        self.since_recount = 0

    def _zscore(self, x: float, threshold: float) -> tuple[float, float, float] | None:
        assert self.ordered is not None
        if self.ordered[0] == self.ordered[-1]:  # exact zero spread, whatever the rounding
            return _ratio(x, self.ordered[0], 0.0, threshold)
        # Welford's m2 stays > 0 once values differ: adds never lower it, and a
        # removal that cancels it nearly away triggers a recount.
        return _ratio(x, self.mean, self.m2 / (len(self.ordered) - 1), threshold)

    def _mad(self, x: float, threshold: float) -> tuple[float, float, float] | None:
        ordered = self.ordered
        assert ordered is not None
        # median() and count_within() of _rolling, inlined by hand: this runs per event.
        n = len(ordered)
        half = n >> 1
        center = ordered[half] if n & 1 else (ordered[half - 1] + ordered[half]) / 2
        if x == center:
            return None
        # Not flagged if the MAD is surely above 0.6745 |x - center| / threshold: when
        # at most half the values lie within (1 + margin) of that radius. O(log w).
        radius = _MAD_SCALE * abs(x - center) / threshold * (1 + _MAD_MARGIN)
        radius += 2 * math.ulp(abs(center) + radius)
        within = ordered.bisect_left(center + radius) - ordered.bisect_right(center - radius)
        if within <= (n - 1) >> 1:
            return None
        spread = absolute_deviation_median(ordered, center)
        score = abs(_MAD_SCALE * (x - center) / spread) if spread else _INF
        return (score, threshold, center) if score > threshold else None

    def _iqr(self, x: float, threshold: float) -> tuple[float, float, float] | None:
        ordered = self.ordered
        assert ordered is not None
        low, high = linear(ordered, 0.25), linear(ordered, 0.75)
        if low <= x <= high:
            return None
        beyond = low - x if x < low else x - high
        score = beyond / (high - low) if high > low else _INF
        return (score, threshold, median(ordered)) if score > threshold else None


def _ratio(
    x: float, center: float, variance: float, threshold: float
) -> tuple[float, float, float] | None:
    """(score, threshold, center) when |x - center| / sqrt(variance) > threshold (0/0: 0)."""
    if x == center:
        return None
    score = abs(x - center) / math.sqrt(variance) if variance > 0 else _INF
    return (score, threshold, center) if score > threshold else None
