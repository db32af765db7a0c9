"""Anomalous metric values: live, against a trailing window, or post-hoc, against all values.

A value x of a metric is scored by one of four methods and flagged when its
score exceeds the method's threshold (``AnomalyDetection.threshold`` replaces
every default):

- ``zscore`` (3): |x - mean| / s, with the sample standard deviation s; center
  the mean.
- ``mad`` (3.5): |0.6745 (x - median) / MAD|, MAD the median of |v - median|
  (``np.median`` twice); center the median.
- ``iqr`` (1.5): with numpy's linear quartiles Q1, Q3 and IQR = Q3 - Q1, the
  score is the distance from the nearer quartile in IQR units: (Q1 - x) / IQR
  below Q1, (x - Q3) / IQR above Q3, 0 between. So x is outside the fences
  [Q1 - k IQR, Q3 + k IQR] exactly when its score exceeds k, as for every
  method; its distance beyond the fence is (score - k) IQR. Center the median.
- ``ewma`` (3): |x - m| / sqrt(S), where m and S are the exponentially
  weighted mean and variance of the values before x, with a = 2 / (window + 1):
  the first value sets m = x, S = 0; each later one, after being scored,
  updates d = x - m, m += a d, S = (1 - a)(S + a d^2) (Finch 2009,
  "Incremental calculation of weighted mean and variance", section 9). Center m, the
  EWMA x was compared with.

Zero spread (s, MAD, IQR or S equal to 0): a value equal to the center scores
0, any other scores ``inf`` and is flagged. A constant window gives no scale
to measure departures in, but a departure from a constant is the clearest
change there is; never flagging would hide a step away from a fixed value
(a price, a cached latency). The cost: under ``mad`` or ``iqr``, a metric
whose window is mostly one value flags every other value; ``zscore`` and
``ewma`` reach zero spread only when every value so far is the same.

Live mode scores each value against the ``window`` values of its metric
before it (then adds it), once ``warmup`` values have been seen; missing
values (None, NaN, inf) are skipped and not added. Costs per value: O(1) for
ewma and zscore's running moments, O(log w) for the ``SortedList`` window
(median, quartiles), O(log² w) for an exact MAD, which is computed only when
a cheap O(log w) count cannot rule the flag out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt

from ._rolling import Sorted, absolute_deviation_median, linear, median, sorted_values

Floats: TypeAlias = npt.NDArray[np.float64]

METHODS: Final = ("zscore", "mad", "iqr", "ewma")
#: The threshold of each method unless ``AnomalyDetection.threshold`` is set.
DEFAULT_THRESHOLDS: Final = {"zscore": 3.0, "mad": 3.5, "iqr": 1.5, "ewma": 3.0}
#: Metrics by name; ``measurements.<key>`` and ``metadata.<key>`` name numeric fields.
METRICS: Final = ("latency_ms", "cost_usd")
_FIELD_PREFIXES: Final = ("measurements.", "metadata.")
_MAD_SCALE: Final = 0.6745
_INF: Final = math.inf
# A quick count rules a MAD flag out only with this relative margin, far above rounding.
_MAD_MARGIN: Final = 2.0**-20
# A running sum of squares that falls this far below its peak is recounted exactly.
_CANCELLATION: Final = 2.0**-10


class AnomalyDetection(msgspec.Struct, frozen=True):
    """How an experiment's events are scored for anomalies as they arrive.

    Attributes:
        metrics: ``"latency_ms"``, ``"cost_usd"``, ``"measurements.<key>"`` or
            ``"metadata.<key>"`` (a numeric field of the event).
        methods: any of ``"zscore"``, ``"mad"``, ``"iqr"``, ``"ewma"``.
        window: trailing values each value is compared with (ewma: its span).
        warmup: values of a metric seen before any of them is scored.
        threshold: replaces every method's default (3, 3.5, 1.5, 3).

    Raises:
        ValueError: an unknown or repeated metric or method, a window or warmup
            below 2, a threshold that is not a finite number > 0.

    Example:
        >>> AnomalyDetection(metrics=("latency_ms", "cost_usd"), methods=("mad", "ewma")).window
        1000
    """

    metrics: tuple[str, ...] = ("latency_ms",)
    methods: tuple[str, ...] = ("mad",)
    window: int = 1000
    warmup: int = 30
    threshold: float | None = None

    def __post_init__(self) -> None:
        for field, kind in (("metrics", "metric"), ("methods", "method")):
            names = getattr(self, field)
            if not isinstance(names, tuple | list):
                raise ValueError(f"{field} must be a tuple of names, got {names!r}")
            if not names:
                raise ValueError(f"{field} must name at least one {kind}")
            for index, name in enumerate(names):
                (_check_metric if kind == "metric" else _check_method)(name)
                if name in names[:index]:
                    raise ValueError(f"{kind} {name!r} is listed twice")
            msgspec.structs.force_setattr(self, field, tuple(names))
        for field in ("window", "warmup"):
            size = getattr(self, field)
            if isinstance(size, bool) or not isinstance(size, int) or size < 2:
                raise ValueError(f"{field} must be an int >= 2, got {size!r}")
        if self.threshold is not None:
            _check_threshold(self.threshold)


class Anomaly(msgspec.Struct, frozen=True):
    """One flagged value: which event, which metric and method, and by how much.

    ``center`` is what the value was compared with (mean, median or EWMA);
    ``score > threshold`` always holds.
    """

    event_id: str
    timestamp: int
    metric: str
    value: float
    method: str
    score: float
    threshold: float
    center: float


def _check_metric(name: object) -> str:
    if isinstance(name, str) and (
        name in METRICS
        or any(name.startswith(prefix) and name != prefix for prefix in _FIELD_PREFIXES)
    ):
        return name
    raise ValueError(
        "metric must be 'latency_ms', 'cost_usd', 'measurements.<key>' or "
        f"'metadata.<key>', got {name!r}"
    )


def _check_method(name: object) -> str:
    if name in METHODS:
        return str(name)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {name!r}")


def _check_threshold(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"threshold must be a finite number > 0, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- live

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


class LiveDetector:
    """Scores each arriving value against its metric's trailing window; one per experiment.

    State is plain Python objects (deques, ``SortedList``s, floats): it pickles
    and copies, so an actor can hand it to its next incarnation.

    Example:
        >>> detector = LiveDetector(AnomalyDetection(methods=("zscore",), warmup=3))
        >>> for i, latency in enumerate([100.0, 101.0, 99.0, 100.0]):
        ...     detector.observe(f"e{i}", i, {"latency_ms": latency})
        []
        []
        []
        []
        >>> [a.score > 3 for a in detector.observe("e4", 4, {"latency_ms": 500.0})]
        [True]
        >>> detector.counts()
        {'latency_ms:zscore': 1}
    """

    def __init__(self, spec: AnomalyDetection) -> None:
        self.spec = spec
        self.reset()

    def reset(self) -> None:
        """Forget every window and count, as if just built. O(metrics)."""
        self._tracks = {metric: _Track(self.spec) for metric in self.spec.metrics}
        self._counts = {
            f"{metric}:{method}": 0 for metric in self.spec.metrics for method in self.spec.methods
        }

    def counts(self) -> dict[str, int]:
        """Anomalies flagged so far, keyed ``"metric:method"`` (all pairs, zeros included)."""
        return dict(self._counts)

    def observe(
        self, event_id: str, timestamp: int, values: Mapping[str, float | None]
    ) -> list[Anomaly]:
        """Score one event's metric values, then add them to their windows.

        Args:
            event_id: the event's id, copied into each anomaly.
            timestamp: µs, copied into each anomaly.
            values: metric name to value; absent, None, NaN and ±inf values are
                skipped (not scored, not added).

        Returns:
            The event's anomalies, by metric then method in the spec's order.

        Cost: O(log w) per metric and method (O(log² w) for a MAD near the threshold).
        """
        anomalies: list[Anomaly] = []
        for metric, track in self._tracks.items():
            value = values.get(metric)
            if value is None or not math.isfinite(value):
                continue
            x = float(value)
            for method, score, threshold, center in track.push(x):
                self._counts[f"{metric}:{method}"] += 1
                anomalies.append(
                    Anomaly(event_id, timestamp, metric, x, method, score, threshold, center)
                )
        return anomalies

    def observe_many(
        self,
        event_ids: Sequence[str],
        timestamps: npt.ArrayLike,
        columns: Mapping[str, npt.ArrayLike],
    ) -> list[Anomaly]:
        """``observe`` for a batch of events, one metric column at a time.

        Args:
            event_ids: one per event, in arrival order.
            timestamps: µs, one per event.
            columns: metric name to a float column (NaN: no value); metrics not
                given are skipped for the whole batch.

        Returns:
            The same anomalies, in the same order, as ``observe`` event by event.

        Raises:
            ValueError: columns or timestamps not as long as ``event_ids``.

        Cost: as ``observe``, with the per-event Python overhead paid once per batch.
        """
        stamps = np.asarray(timestamps, dtype=np.int64).tolist()
        found: list[tuple[int, int, Anomaly]] = []
        for order, (metric, track) in enumerate(self._tracks.items()):
            if metric not in columns:
                continue
            column = np.asarray(columns[metric], dtype=np.float64).tolist()
            if not len(column) == len(stamps) == len(event_ids):
                raise ValueError(
                    f"{len(column)} {metric} values and {len(stamps)} timestamps "
                    f"for {len(event_ids)} event ids"
                )
            push = track.push
            for row, x in enumerate(column):
                if x - x != 0:  # NaN or ±inf: no value
                    continue
                for method, score, threshold, center in push(x):
                    self._counts[f"{metric}:{method}"] += 1
                    anomaly = Anomaly(
                        event_ids[row], stamps[row], metric, x, method, score, threshold, center
                    )
                    found.append((row, order, anomaly))
        found.sort(key=lambda item: (item[0], item[1]))  # stable: methods keep their order
        return [anomaly for _, _, anomaly in found]


# ---------------------------------------------------------------- post-hoc


def detect_anomalies(
    event_ids: Sequence[str],
    timestamps: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    metric: str,
    method: str,
    threshold: float | None,
    window: int = 1000,
    warmup: int = 30,
) -> list[Anomaly]:
    """One method over all values at once: whole-population statistics, in time order.

    zscore, mad and iqr compare every value with the mean and standard
    deviation, median and MAD, or quartiles of all present values (itself
    included), vectorised; ewma runs live mode's recursion over the whole
    series, with ``window`` setting its span and no flag before ``warmup``
    values, and flags exactly what a ``LiveDetector`` flags.

    Args:
        event_ids: one per value.
        timestamps: µs, one per value.
        values: float column; NaN and ±inf are absent values.
        metric: the metric's name (see ``AnomalyDetection``), copied into each anomaly.
        method: ``"zscore"``, ``"mad"``, ``"iqr"`` or ``"ewma"``.
        threshold: replaces the method's default.
        window: ewma only: a = 2 / (window + 1).
        warmup: ewma only: values seen before the first flag.

    Returns:
        The anomalies in the order of the values; none with fewer than two values.

    Raises:
        ValueError: as ``AnomalyDetection``, or columns of different lengths.

    Cost: O(n): numpy's selections for medians and quartiles; for ewma a Python
    loop (about 0.25 µs a value, see ``_ewma_scores``).

    Example:
        >>> found = detect_anomalies(
        ...     ["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5], [10.0, 11.0, 9.0, 10.0, 80.0],
        ...     metric="latency_ms", method="mad", threshold=None,
        ... )
        >>> [(a.event_id, a.center) for a in found]
        [('e', 10.0)]
    """
    spec = AnomalyDetection((metric,), (method,), window, warmup, threshold)
    limit = spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLDS[method]
    column = np.asarray(values, dtype=np.float64)
    stamps = np.asarray(timestamps, dtype=np.int64)
    if not len(column) == len(stamps) == len(event_ids):
        raise ValueError(
            f"{len(stamps)} timestamps and {len(column)} values for {len(event_ids)} event ids"
        )
    rows = np.flatnonzero(np.isfinite(column))
    present = column[rows]
    if method == "ewma":
        scores, centers = _ewma_scores(present, spec.window, spec.warmup)
    elif present.size < 2:
        return []
    else:
        scores, centers = _population_scores(present, method)
    flagged = np.flatnonzero(scores > limit)
    return [
        Anomaly(event_ids[row], stamp, metric, value, method, score, limit, center)
        for row, stamp, value, score, center in zip(
            rows[flagged].tolist(),
            stamps[rows[flagged]].tolist(),
            present[flagged].tolist(),
            scores[flagged].tolist(),
            centers[flagged].tolist(),
            strict=True,
        )
    ]


def _over(distance: Floats, spread: float) -> Floats:
    """distance / spread, with the zero-spread rule: inf where distance > 0, else 0."""
    if spread > 0:
        return distance / spread
    return np.where(distance > 0, _INF, 0.0)


def _population_scores(present: Floats, method: str) -> tuple[Floats, Floats]:
    """Scores of every value against statistics of them all. O(n)."""
    if method == "zscore":
        center = float(np.mean(present))
        if present.min() == present.max():
            return np.zeros(present.size), np.full(present.size, float(present[0]))
        scores = _over(np.abs(present - center), float(np.std(present, ddof=1)))
    elif method == "mad":
        center = float(np.median(present))
        spread = float(np.median(np.abs(present - center)))
        scores = (
            np.abs(_MAD_SCALE * (present - center) / spread)
            if spread
            else _over(np.abs(present - center), 0.0)
        )
    else:
        low, high = (float(q) for q in np.percentile(present, [25, 75]))
        center = float(np.median(present))
        beyond = np.where(
            present < low, low - present, np.where(present > high, present - high, 0)
        )
        scores = _over(beyond, high - low)
    return scores, np.full(present.size, center)


def _ewma_scores(present: Floats, window: int, warmup: int) -> tuple[Floats, Floats]:
    """Live mode's ewma recursion over the series: the same float operations, in order.

    Sequential on purpose: a vectorised closed form of the recurrences (blocks
    of cumulative sums) took 27 ms for 1 M values against 245 ms here, but
    drifted from the live values by about 1e-9 relative, and in runs of equal
    values, where the EW variance decays towards rounding noise, that drift
    alone scored above 3 (a value flagged post-hoc and not live). O(n).
    """
    scores: list[float] = []
    centers: list[float] = []
    alpha = 2 / (window + 1)
    mean = variance = 0.0
    for t, x in enumerate(present.tolist()):
        # _Track.push's ewma score and update, operation for operation.
        if t < warmup or x == mean:
            scores.append(0.0)
        else:
            scores.append(abs(x - mean) / math.sqrt(variance) if variance > 0 else _INF)
        centers.append(mean)
        if t == 0:
            mean = x
        else:
            delta = x - mean
            mean += alpha * delta
            variance = (1 - alpha) * (variance + alpha * delta * delta)
    return np.array(scores), np.array(centers)
