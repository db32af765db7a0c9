"""Post-hoc analysis: metrics, comparisons, breakdowns, significance (part of ``Runtime``).

The actor answers a snapshot; everything else runs in a worker thread at
numpy speed (see ``_runtime_core.off_loop``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._event import Event
from ._results import Comparison, Metrics
from ._runtime_core import RuntimeCore, off_loop
from ._runtime_reads import make_filter
from ._stats._compare import compare
from ._stats._metrics import MetricColumns, calculate
from ._storage._breakdown import event_ids, field_values, group_positions, pairing_keys
from ._storage._filters import Filter
from ._storage._reads import metric_columns, selected
from ._types import EventNameLike


class AnalysisMixin(RuntimeCore):
    """calculate_metrics, compare_experiments, breakdown, significance, detect_anomalies."""

    async def calculate_metrics(
        self,
        experiment_id: str,
        *,
        event_name: EventNameLike | None = None,
        where: Callable[[Event], bool] | None = None,
        time_range: tuple[int, int] | None = None,
        weighted: bool = False,
        **fields: Any,
    ) -> Metrics:
        """Latency, cost, reliability and token metrics over the stored events.

        The filters are ``query``'s: only matching events are analysed. With
        ``weighted=True`` (for sampled experiments) counts and totals are
        Horvitz-Thompson estimates. O(n) at numpy speed, off the loop.

        Raises:
            ValueError: a bad filter.
            ExperimentNotFoundError: unknown id.
        """
        where_filter = make_filter(event_name, None, time_range, None, where, fields)
        return await self._metrics(experiment_id, where_filter, weighted)

    async def _metrics(self, experiment_id: str, where: Filter, weighted: bool) -> Metrics:
        view = await self._view(experiment_id, *(where.time_range or (None, None)))
        active, paused = view.active_and_paused_seconds(self._now_datetime())

        def run(*, cancel: Any) -> Metrics:
            merged, positions = selected(view.snapshot, where, cancel, payloads=False)
            return calculate(
                metric_columns(merged, positions, weights=weighted),
                merged.snapshot.names,
                active_seconds=active,
                paused_seconds=paused,
                weighted=weighted,
            )

        return await off_loop(run)

    async def compare_experiments(
        self,
        experiment_ids: Sequence[str],
        *,
        event_name: EventNameLike | None = None,
        where: Callable[[Event], bool] | None = None,
        time_range: tuple[int, int] | None = None,
        **fields: Any,
    ) -> Comparison:
        """Each experiment after the first against the first (the baseline).

        Raises:
            ValueError: fewer than two ids.
            ExperimentNotFoundError: an unknown id.
        """
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        if len(ids) < 2:
            raise ValueError(f"compare_experiments needs at least two ids, got {len(ids)}")
        where_filter = make_filter(event_name, None, time_range, None, where, fields)
        metrics = [
            await self._metrics(experiment_id, where_filter, False) for experiment_id in ids
        ]
        return compare(ids, metrics)

    async def breakdown(
        self,
        experiment_id: str,
        by: str,
        *,
        event_name: EventNameLike | None = None,
        where: Callable[[Event], bool] | None = None,
        time_range: tuple[int, int] | None = None,
        **fields: Any,
    ) -> dict[Any, Metrics]:
        """One :class:`Metrics` per value of ``by``, for the matching events.

        ``by`` is an Event field (``"model"``, ``"provider"``, ``"event_name"``
        as a dotted str, ``"condition"``, ``"success"`` …) or else a metadata
        key; events without it are grouped under None.

        Raises:
            TypeError: ``by`` is not a str.
            ExperimentNotFoundError: unknown id.
        """
        if not isinstance(by, str) or not by:
            raise TypeError(f"by must be a field name or metadata key (str), got {by!r}")
        where_filter = make_filter(event_name, None, time_range, None, where, fields)
        view = await self._view(experiment_id, *(where_filter.time_range or (None, None)))
        active, paused = view.active_and_paused_seconds(self._now_datetime())

        def run(*, cancel: Any) -> dict[Any, Metrics]:
            merged, positions = selected(view.snapshot, where_filter, cancel)
            return {
                value: calculate(
                    metric_columns(merged, rows, weights=False),  # unweighted
                    merged.snapshot.names,
                    active_seconds=active,
                    paused_seconds=paused,
                )
                for value, rows in group_positions(merged, positions, by, cancel).items()
            }

        return await off_loop(run)

    async def significance(
        self,
        baseline_id: str,
        treatment_id: str,
        *,
        event_name: EventNameLike | None = None,
        where: Callable[[Event], bool] | None = None,
        paired_by: str | None = None,
        confidence: float = 0.95,
        resamples: int = 10_000,
        seed: int | None = None,
    ) -> Any:
        """Is the treatment different from the baseline? Tests, intervals, effect sizes.

        Welch and Mann-Whitney for latency and cost, Fisher's exact test and a
        Newcombe-Wilson interval (percentage points) for success, Hedges' g,
        Cliff's delta, bootstrap intervals for the median and p95
        differences, paired tests with ``paired_by``, Holm-adjusted p-values
        and plain-language warnings. Needs the ``stats`` extra (scipy).

        Raises:
            ImportError: scipy is missing.
            ValueError: a bad confidence, resample count or filter.
            ExperimentNotFoundError: an unknown id.
        """
        from ._stats._side_sample import SideSample
        from ._stats._significance import significance_from_samples

        where_filter = make_filter(event_name, None, None, None, where, None)
        if paired_by is not None and (not isinstance(paired_by, str) or not paired_by):
            raise TypeError(f"paired_by must be a field name or metadata key, got {paired_by!r}")
        views = [await self._view(experiment_id) for experiment_id in (baseline_id, treatment_id)]

        def run(*, cancel: Any) -> Any:
            sides = []
            for view in views:
                merged, positions = selected(
                    view.snapshot, where_filter, cancel, payloads=paired_by is not None
                )
                columns = metric_columns(merged, positions)
                keys = pairing_keys(merged, positions, paired_by, cancel)
                sides.append(side_sample(SideSample, columns, keys))
            return significance_from_samples(
                sides[0],
                sides[1],
                baseline_id=baseline_id,
                treatment_id=treatment_id,
                paired_by=paired_by,
                confidence=confidence,
                resamples=resamples,
                seed=seed,
            )

        return await off_loop(run)

    async def detect_anomalies(
        self,
        experiment_id: str,
        *,
        metric: str = "latency_ms",
        method: str = "mad",
        threshold: float | None = None,
        event_name: EventNameLike | None = None,
    ) -> list[Any]:
        """Anomalies among all stored events at once (whole-population statistics).

        The methods of ``AnomalyDetection`` over every stored value of
        ``metric`` (of ``event_name`` events only, if given), in time order;
        equal to a numpy computation over the same values. O(n).

        Raises:
            ValueError: an unknown metric or method, a bad threshold.
            ExperimentNotFoundError: unknown id.
        """
        from ._stats._anomaly import AnomalyDetection, detect_anomalies

        spec = AnomalyDetection(
            metrics=(metric,), methods=(method,), threshold=threshold
        )  # validates the arguments where the call is made
        where_filter = make_filter(event_name)
        view = await self._view(experiment_id)

        def run(*, cancel: Any) -> list[Any]:
            import numpy as np

            custom = metric not in ("latency_ms", "cost_usd")
            merged, positions = selected(view.snapshot, where_filter, cancel, payloads=custom)
            rows = np.arange(merged.size, dtype=np.int64) if positions is None else positions
            if metric in ("latency_ms", "cost_usd"):
                column = "latency" if metric == "latency_ms" else "cost"
                values = merged.column(column)[rows]
            else:
                source, _, key = metric.partition(".")
                raw = field_values(merged, rows, source, cancel)
                values = np.asarray([_number_of(fields, key) for fields in raw], dtype=np.float64)
            present = np.flatnonzero(~np.isnan(values))
            return detect_anomalies(
                event_ids(merged, rows[present]),
                merged.column("timestamps")[rows[present]],
                values[present],
                metric=metric,
                method=method,
                threshold=spec.threshold,
                window=spec.window,
                warmup=spec.warmup,
            )

        return await off_loop(run)


def _number_of(fields: Any, key: str) -> float:
    from ._enrichment import number_or_none

    try:
        number = number_or_none(fields.get(key)) if isinstance(fields, dict) else None
    except Exception:
        number = None
    return float("nan") if number is None else number


def side_sample(kind: Any, columns: MetricColumns, keys: list[Any] | None) -> Any:
    """A ``SideSample`` (``kind``) of the selected rows: latency and cost values with
    their pairing keys, and the success counts."""
    import numpy as np

    has_latency = ~np.isnan(columns.latency)
    has_cost = ~np.isnan(columns.cost)
    latency_keys = cost_keys = None
    if keys is not None:
        latency_keys = [keys[row] for row in np.flatnonzero(has_latency).tolist()]
        cost_keys = [keys[row] for row in np.flatnonzero(has_cost).tolist()]
    return kind(
        latency=columns.latency[has_latency],
        cost=columns.cost[has_cost],
        latency_keys=latency_keys,
        cost_keys=cost_keys,
        successes=int(np.count_nonzero(columns.success == 1)),
        total=int(np.count_nonzero(columns.success >= 0)),
        events=len(columns.timestamps),
    )
