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
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt

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


_BATCH = msgspec.msgpack.Decoder(list[Anomaly])


def decode_anomalies(batch: bytes) -> list[Anomaly]:
    """A batch of anomalies as a durable experiment's database keeps it (msgpack)."""
    return _BATCH.decode(batch)


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


from ._anomaly_posthoc import detect_anomalies as detect_anomalies  # noqa: E402
from ._anomaly_track import _Track  # noqa: E402
