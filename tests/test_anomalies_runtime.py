"""Anomaly detection through the runtime: live flags, streaming counts and post-hoc detection.

The live flags of an experiment are checked against a ``LiveDetector`` fed
the values the runtime stored, in arrival order; ``detect_anomalies``
against the numpy reference run on ``get_all``'s values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import Anomaly, AnomalyDetection, Event, Runtime, Uniform, emit
from telemetry_actors._stats._anomaly import LiveDetector
from telemetry_actors._stats._anomaly import detect_anomalies as reference_detect
from telemetry_actors.testing import inject_crash
from tests.conftest import BASE_US, FakeClock

METRICS = ("latency_ms", "cost_usd", "measurements.tokens_out", "metadata.score")
METHODS = ("zscore", "mad", "iqr", "ewma")


def arrival(event: Event) -> int:
    """The arrival serial in an emitted event's id (``<prefix>-0x<serial>``)."""
    return int(event.event_id.rsplit("-0x", 1)[1], 16)


def metric_value(event: Event, metric: str) -> float | None:
    if metric == "latency_ms":
        return event.latency_ms
    if metric == "cost_usd":
        return event.cost_usd
    source, _, key = metric.partition(".")
    value = (event.measurements if source == "measurements" else event.metadata).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def replayed(spec: AnomalyDetection, events: Sequence[Event]) -> tuple[list[Anomaly], Any]:
    """A fresh LiveDetector fed the stored events in arrival order: (anomalies, counts)."""
    detector = LiveDetector(spec)
    found: list[Anomaly] = []
    for event in sorted(events, key=arrival):
        values = {metric: metric_value(event, metric) for metric in spec.metrics}
        found.extend(detector.observe(event.event_id, event.timestamp, values))
    found.sort(key=lambda anomaly: anomaly.timestamp)  # stable: arrival order within a tie
    return found, detector.counts()


def emit_call(
    latency_ms: float | None,
    cost: float | None = None,
    tokens_out: float | None = None,
    score: float | None = None,
    name: str = "app.llm.call",
) -> None:
    measurements: dict[str, Any] = {}
    if latency_ms is not None:
        measurements["duration"] = round(latency_ms * 1e6)
    if tokens_out is not None:
        measurements["tokens_out"] = tokens_out
    metadata: dict[str, Any] = {}
    if cost is not None:
        metadata["cost"] = cost
    if score is not None:
        metadata["score"] = score
    emit(name, measurements, metadata)


# A value: usually ordinary, sometimes a spike, sometimes missing.
ordinary = st.floats(90.0, 110.0)
value = st.one_of(ordinary, ordinary, ordinary, st.floats(0.0, 5_000.0), st.none())


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "step_us": draw(st.integers(-5, 50)),  # the clock may step back: out-of-order events
        "latency_ms": draw(value),
        "cost": draw(st.none() | st.floats(0.0, 1.0)),
        "tokens_out": draw(value),
        "score": draw(value),
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(calls(), min_size=20, max_size=120),
    st.integers(2, 30),
    st.integers(2, 10),
    st.none() | st.sampled_from((1.0, 2.5)),
    st.booleans(),
)
def test_live_anomalies_equal_a_detector_fed_the_stored_values(
    steps: list[dict[str, Any]], window: int, warmup: int, threshold: float | None, sampled: bool
) -> None:
    spec = AnomalyDetection(
        metrics=METRICS, methods=METHODS, window=window, warmup=warmup, threshold=threshold
    )

    middle = (BASE_US + 100, BASE_US + 1_000)

    async def main() -> tuple[list[Anomaly], Any, list[Event], list[Anomaly], list[Anomaly]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment(
                "live",
                events=["app.*"],
                anomaly_detection=spec,
                sampling=Uniform(0.5, seed=3) if sampled else None,
            )
            for index, step in enumerate(steps):
                clock.advance(step["step_us"])
                emit_call(step["latency_ms"], step["cost"], step["tokens_out"], step["score"])
                if index % 37 == 36:
                    await rt.flush()  # several batches
            await rt.flush()
            found = await rt.anomalies(experiment.id)
            live = await rt.streaming_metrics(experiment.id)
            events = await rt.get_all(experiment.id)
            ranged = await rt.anomalies(
                experiment.id, metric="latency_ms", method="mad", time_range=middle
            )
            by_metric = await rt.anomalies(experiment.id, metric="metadata.score")
            return found, live, events, ranged, by_metric

    found, live, events, ranged, by_metric = anyio.run(main)
    expected, counts = replayed(spec, events)
    assert found == expected
    assert live.anomalies == counts
    assert sum(counts.values()) == len(found)
    assert live.latency.count == sum(step["latency_ms"] is not None for step in steps)
    assert ranged == [
        a
        for a in expected
        if a.metric == "latency_ms" and a.method == "mad" and middle[0] <= a.timestamp <= middle[1]
    ]
    assert by_metric == [a for a in expected if a.metric == "metadata.score"]
    for anomaly in found:
        assert anomaly.score > anomaly.threshold
        assert anomaly.threshold == (
            threshold or {"zscore": 3, "mad": 3.5, "iqr": 1.5, "ewma": 3}[anomaly.method]
        )


async def test_a_latency_incident_is_flagged(rt: Runtime, clock: FakeClock) -> None:
    """200 ordinary calls around 100 ms, then five of 2 s: exactly those five are flagged."""
    spec = AnomalyDetection(metrics=("latency_ms",), methods=("mad", "zscore"), window=100)
    experiment = await rt.start_experiment("incident", events=["app.*"], anomaly_detection=spec)
    rng = np.random.default_rng(0)
    for latency in rng.normal(100.0, 3.0, 200):
        clock.advance(1_000)
        emit_call(float(latency))
    incident_start = clock.advance(1_000)
    for _ in range(5):
        emit_call(2_000.0)
        clock.advance(1_000)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    incident = [e.event_id for e in events if e.timestamp >= incident_start]
    mad = await rt.anomalies(experiment.id, method="mad")
    assert [a.event_id for a in mad] == incident
    assert all(a.value == 2_000.0 and 95 < a.center < 105 for a in mad)
    zscore = await rt.anomalies(experiment.id, method="zscore")
    assert [a.event_id for a in zscore][:1] == incident[:1]  # the window soon absorbs the rest
    live = await rt.streaming_metrics(experiment.id)
    assert live.anomalies["latency_ms:mad"] == 5
    assert live.anomalies["latency_ms:zscore"] == len(zscore)
    assert await rt.anomalies(experiment.id, time_range=(BASE_US, incident_start - 1)) == []


async def test_custom_metrics_from_measurements_and_metadata(
    rt: Runtime, clock: FakeClock
) -> None:
    spec = AnomalyDetection(
        metrics=("measurements.tokens_out", "metadata.score"), methods=("iqr",), warmup=10
    )
    experiment = await rt.start_experiment("custom", events=["app.*"], anomaly_detection=spec)
    for index in range(40):
        clock.advance(10)
        emit_call(None, tokens_out=100.0 + index % 5, score=0.5 + (index % 3) / 100)
    clock.advance(10)
    emit_call(None, tokens_out=900.0, score=0.51)
    clock.advance(10)
    emit_call(None, tokens_out=101.0, score=-4.0)
    clock.advance(10)
    emit("app.llm.call", {"tokens_out": "many"}, {"score": None})  # no values: not scored
    await rt.flush()
    found = await rt.anomalies(experiment.id)
    assert [(a.metric, a.value) for a in found] == [
        ("measurements.tokens_out", 900.0),
        ("metadata.score", -4.0),
    ]
    assert (await rt.streaming_metrics(experiment.id)).anomalies == {
        "measurements.tokens_out:iqr": 1,
        "metadata.score:iqr": 1,
    }
    events = await rt.get_all(experiment.id)
    assert found == replayed(spec, events)[0]


async def test_flags_survive_a_restart_of_the_actor(rt: Runtime, clock: FakeClock) -> None:
    spec = AnomalyDetection(metrics=("latency_ms",), methods=("mad",), warmup=5)
    experiment = await rt.start_experiment("crash", events=["app.*"], anomaly_detection=spec)
    for latency in (100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 5_000.0):
        clock.advance(1)
        emit_call(latency)
    await rt.flush()
    before = await rt.anomalies(experiment.id)
    assert [a.value for a in before] == [5_000.0]
    await inject_crash(rt, experiment.id)
    clock.advance(1)
    emit_call(7_000.0)
    await rt.flush()
    after = await rt.anomalies(experiment.id)
    assert [a.value for a in after] == [5_000.0, 7_000.0]
    assert after == replayed(spec, await rt.get_all(experiment.id))[0]


# ----------------------------------------------------------- detect_anomalies


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(calls(), min_size=1, max_size=80),
    st.sampled_from(METRICS),
    st.sampled_from(METHODS),
    st.none() | st.sampled_from((1.0, 2.0)),
    st.booleans(),
)
def test_detect_anomalies_equals_the_numpy_reference(
    steps: list[dict[str, Any]],
    metric: str,
    method: str,
    threshold: float | None,
    only_calls: bool,
) -> None:
    async def main() -> tuple[list[Anomaly], list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment("post hoc", events=["app.*"])
            for index, step in enumerate(steps):
                clock.advance(step["step_us"])
                name = "app.tool.run" if index % 4 == 3 else "app.llm.call"
                emit_call(
                    step["latency_ms"], step["cost"], step["tokens_out"], step["score"], name
                )
            await rt.flush()
            found = await rt.detect_anomalies(
                experiment.id,
                metric=metric,
                method=method,
                threshold=threshold,
                event_name="app.llm.call" if only_calls else None,
            )
            return found, await rt.get_all(experiment.id)

    found, events = anyio.run(main)
    if only_calls:
        events = [e for e in events if e.event_name == ("app", "llm", "call")]
    values = [metric_value(e, metric) for e in events]
    present = [(e, v) for e, v in zip(events, values, strict=True) if v is not None]
    expected = reference_detect(
        [e.event_id for e, _ in present],
        [e.timestamp for e, _ in present],
        [v for _, v in present],
        metric=metric,
        method=method,
        threshold=threshold,
    )
    assert found == expected
    if method != "ewma" and len(present) >= 2:
        column = np.array([v for _, v in present])
        assert {a.event_id for a in found} == {
            e.event_id
            for e, v in present
            if _population_score(column, v, method)
            > (threshold or {"zscore": 3, "mad": 3.5, "iqr": 1.5}[method])
        }


def _population_score(column: np.ndarray, x: float, method: str) -> float:  # type: ignore[type-arg]
    """The contract's formulas, written out once more for one value."""
    if method == "zscore":
        spread, center = float(np.std(column, ddof=1)), float(np.mean(column))
        if column.min() == column.max():
            return 0.0
    elif method == "mad":
        center = float(np.median(column))
        spread = float(np.median(np.abs(column - center))) / 0.6745
    else:
        low, high = np.percentile(column, [25, 75])
        if low <= x <= high:
            return 0.0
        beyond = low - x if x < low else x - high
        return float(beyond / (high - low)) if high > low else math.inf
    distance = abs(x - center)
    if spread == 0:
        return math.inf if distance > 0 else 0.0
    return distance / spread


async def test_detect_anomalies_refuses_unknown_names(rt: Runtime) -> None:
    experiment = await rt.start_experiment("names")
    with pytest.raises(ValueError, match="metric must be 'latency_ms', 'cost_usd'"):
        await rt.detect_anomalies(experiment.id, metric="latency")
    with pytest.raises(ValueError, match="method must be one of zscore, mad, iqr, ewma"):
        await rt.detect_anomalies(experiment.id, method="median")
    with pytest.raises(ValueError, match="threshold must be a finite number > 0"):
        await rt.detect_anomalies(experiment.id, threshold=0)
    assert await rt.detect_anomalies(experiment.id) == []


async def test_anomaly_detection_must_be_an_anomaly_detection(rt: Runtime) -> None:
    with pytest.raises(TypeError, match="anomaly_detection must be an AnomalyDetection, got dict"):
        await rt.start_experiment("x", anomaly_detection={"metrics": ("latency_ms",)})
    experiment = await rt.start_experiment("no detection")
    assert await rt.anomalies(experiment.id) == []
    assert (await rt.streaming_metrics(experiment.id)).anomalies == {}


async def test_inserted_events_are_scored_as_they_arrive(rt: Runtime, clock: FakeClock) -> None:
    """Every stored event is scored, inserted ones too, in the order they reach the actor."""
    spec = AnomalyDetection(metrics=("latency_ms", "measurements.tokens_out"), warmup=5)
    experiment = await rt.start_experiment("inserted", events=["app.*"], anomaly_detection=spec)
    for index in range(8):
        clock.advance(10)
        emit_call(100.0 + index % 3, tokens_out=50.0)
    await rt.flush()
    spike = await rt.insert(
        experiment.id,
        {
            "timestamp": clock.advance(10),
            "latency_ms": 3_000.0,
            "measurements": {"tokens_out": 50.0},
        },
    )
    clock.advance(10)
    emit_call(4_000.0, tokens_out=50.0)
    await rt.flush()
    found = await rt.anomalies(experiment.id)
    assert [(a.event_id, a.value) for a in found][:1] == [(spike.event_id, 3_000.0)]
    assert [a.value for a in found] == [3_000.0, 4_000.0]
    assert (await rt.streaming_metrics(experiment.id)).anomalies == {
        "latency_ms:mad": 2,
        "measurements.tokens_out:mad": 0,
    }
