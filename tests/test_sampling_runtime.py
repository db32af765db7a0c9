"""Sampling strategies through the runtime: what is stored, its weights, and the estimates.

Each sampler draws from ``random.Random(seed)`` in arrival order, so the
tests replay the documented decision rule with the same seed and check that
the store keeps exactly the events that rule keeps. Every emitted event
carries its index in ``metadata["index"]``.
"""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import (
    Adaptive,
    AnomalyDetection,
    Event,
    Reservoir,
    Runtime,
    Stratified,
    Uniform,
    emit,
)
from tests.conftest import BASE_US, FakeClock
from tests.reference import assert_close, metrics_by_hand, plain


def emit_call(
    index: int, *, latency_ms: float = 100.0, cost: float = 0.01, **metadata: Any
) -> None:
    emit(
        "app.llm.call",
        {"duration": round(latency_ms * 1e6)},
        {"index": index, "cost": cost, **metadata},
    )


def indices(events: list[Event]) -> list[int]:
    return [event.metadata["index"] for event in events]


def kept_by_rates(rates: list[float], seed: int | None) -> dict[int, float]:
    """The documented rule: one ``random()`` per event whose rate is below 1, kept when
    it is below the rate; {index: weight} of the kept events."""
    generator = random.Random(seed)
    kept = {}
    for index, rate in enumerate(rates):
        if rate >= 1.0:
            kept[index] = 1.0
        elif generator.random() < rate:
            kept[index] = 1.0 / rate
    return kept


def reservoir(seed: int | None, size: int, count: int) -> list[int]:
    """Algorithm R as documented: slot j drawn exactly with ``getrandbits``; the kept indices."""
    generator = random.Random(seed)
    kept: list[int] = []
    for seen, index in enumerate(range(count), start=1):
        if seen <= size:
            kept.append(index)
            continue
        slot = generator.getrandbits(seen.bit_length())
        while slot >= seen:
            slot = generator.getrandbits(seen.bit_length())
        if slot < size:
            kept[slot] = index
    return kept


# ------------------------------------------------------------------ Uniform


@pytest.mark.parametrize("how", ["sampling", "metadata"])
async def test_uniform_keeps_the_events_its_draws_keep(
    rt: Runtime, clock: FakeClock, how: str
) -> None:
    """``Uniform(0.3, seed)`` and ``metadata={"sampling_rate": 0.3, "sampling_seed": seed}``
    keep the same events, each weighing 1 / 0.3."""
    if how == "sampling":
        experiment = await rt.start_experiment(
            "u", events=["app.*"], sampling=Uniform(0.3, seed=9)
        )
    else:
        experiment = await rt.start_experiment(
            "u", events=["app.*"], metadata={"sampling_rate": 0.3, "sampling_seed": 9}
        )
    for index in range(500):
        clock.advance(1)
        emit_call(index)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    expected = kept_by_rates([0.3] * 500, 9)
    assert indices(events) == sorted(expected)
    assert {event.sampling_weight for event in events} == {1 / 0.3}
    assert 100 < len(events) < 200


async def test_without_sampling_every_weight_is_one(rt: Runtime, clock: FakeClock) -> None:
    experiment = await rt.start_experiment("all", events=["app.*"], sampling=Uniform(1.0))
    for index in range(20):
        emit_call(index)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    assert indices(events) == list(range(20))
    assert all(event.sampling_weight == 1.0 for event in events)


async def test_sampling_and_a_sampling_rate_together_are_refused(rt: Runtime) -> None:
    with pytest.raises(ValueError, match=r"give either sampling= or metadata\['sampling_rate'\]"):
        await rt.start_experiment("both", sampling=Uniform(0.5), metadata={"sampling_rate": 0.5})
    with pytest.raises(TypeError, match="sampling must be Uniform, Reservoir, Stratified or"):
        await rt.start_experiment("bad", sampling=0.5)
    assert await rt.list_experiments() == []


# ---------------------------------------------------------------- Reservoir


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 25),
    st.lists(st.integers(0, 60), min_size=1, max_size=8),
    st.integers(0, 2**32),
)
def test_reservoir_keeps_algorithm_r_sample_at_every_flush(
    size: int, batches: list[int], seed: int
) -> None:
    async def main() -> list[tuple[int, list[Event], Any, Any, int]]:
        clock = FakeClock()
        seen = 0
        checks = []
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment(
                "r", events=["app.*"], sampling=Reservoir(size, seed=seed)
            )
            for count in batches:
                for _ in range(count):
                    clock.advance(1)
                    emit_call(seen, cost=float(seen))
                    seen += 1
                await rt.flush()
                checks.append(
                    (
                        seen,
                        await rt.get_all(experiment.id),
                        await rt.calculate_metrics(experiment.id, weighted=True),
                        await rt.streaming_metrics(experiment.id),
                        (await rt.statistics(experiment.id)).stored_events,
                    )
                )
        return checks

    for seen, events, weighted, live, stored in anyio.run(main):
        assert len(events) == stored == min(size, seen)
        assert sorted(indices(events)) == sorted(reservoir(seed, size, seen))
        assert all(event.sampling_weight == max(1.0, seen / size) for event in events)
        assert weighted.summary.total_events == pytest.approx(seen, rel=1e-12)
        assert live.latency.count == seen  # every collected event counts live
        assert live.cost.total == math.fsum(range(seen))


async def test_reservoir_with_a_database_is_refused(tmp_path: Path) -> None:
    async with Runtime(database=tmp_path / "t.db") as rt:
        with pytest.raises(ValueError, match="Reservoir sampling keeps its sample in memory"):
            await rt.start_experiment("r", sampling=Reservoir(10))
        experiment = await rt.start_experiment(
            "r", sampling=Reservoir(10), storage_backend="memory", events=["app.*"]
        )
        for index in range(30):
            emit_call(index)
        await rt.flush()
        assert len(await rt.get_all(experiment.id)) == 10


# --------------------------------------------------------------- Stratified


async def test_stratified_keeps_each_stratum_at_its_rate(rt: Runtime, clock: FakeClock) -> None:
    """Failures all kept (weight 1), successes at 10 % (weight 10), unknown outcome at the
    default 0.5 (weight 2); draws only for rates below 1, in arrival order."""
    experiment = await rt.start_experiment(
        "s",
        events=["app.*"],
        sampling=Stratified({False: 1.0, True: 0.1}, default=0.5, seed=4),
    )
    outcomes: list[bool | None] = [(True, True, False, None)[i % 4] for i in range(800)]
    for index, outcome in enumerate(outcomes):
        clock.advance(1)
        extra = {} if outcome is None else {"response": "ok"} if outcome else {"error": "x"}
        emit_call(index, **extra)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    rates = [{True: 0.1, False: 1.0, None: 0.5}[outcome] for outcome in outcomes]
    expected = kept_by_rates(rates, 4)
    assert indices(events) == sorted(expected)
    for event in events:
        assert event.sampling_weight == pytest.approx(expected[event.metadata["index"]], rel=1e-15)
        assert event.sampling_weight == {True: 10.0, False: 1.0, None: 2.0}[event.success]
    assert sum(event.success is False for event in events) == 200


@pytest.mark.parametrize("by", ["model", "event_name"])
async def test_stratified_by_a_field(rt: Runtime, clock: FakeClock, by: str) -> None:
    rates = {"gpt-4": 0.25} if by == "model" else {"app.llm.call": 0.25}
    experiment = await rt.start_experiment(
        "s", events=["app.*"], sampling=Stratified(rates, by=by, seed=1)
    )
    for index in range(400):
        clock.advance(1)
        if index % 2:
            emit("app.tool.run", {"duration": 1}, {"index": index, "model": "local"})
        else:
            emit_call(index, model="gpt-4")
    await rt.flush()
    events = await rt.get_all(experiment.id)
    expected = kept_by_rates([0.25 if i % 2 == 0 else 1.0 for i in range(400)], 1)
    assert indices(events) == sorted(expected)
    assert {e.sampling_weight for e in events if e.model == "gpt-4"} == {4.0}
    assert {e.sampling_weight for e in events if e.model == "local"} == {1.0}


# ----------------------------------------------------------------- Adaptive


async def test_adaptive_needs_anomaly_detection(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="give anomaly_detection=AnomalyDetection"):
        await rt.start_experiment("a", sampling=Adaptive(0.1))


async def test_adaptive_keeps_everything_while_flagged(rt: Runtime, clock: FakeClock) -> None:
    window = 20
    experiment = await rt.start_experiment(
        "adaptive",
        events=["app.*"],
        anomaly_detection=AnomalyDetection(methods=("mad",), window=window, warmup=5),
        sampling=Adaptive(0.1, seed=2),
    )
    latencies = [100.0 + (index % 7) for index in range(1_000)]
    latencies[600:] = [5_000.0 + index for index in range(400)]  # an incident that lasts
    for index, latency in enumerate(latencies):
        clock.advance(1)
        emit_call(index, latency_ms=latency)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    by_index = {event.metadata["index"]: event for event in events}
    anomalies = await rt.anomalies(experiment.id)
    flagged = sorted(by_index_of(events, anomaly.event_id) for anomaly in anomalies)
    assert flagged
    assert flagged[0] >= 600  # nothing is flagged before the incident
    first = flagged[0]
    # Before the first flag: about 10 % kept, each weighing 10.
    before = [event for event in events if event.metadata["index"] < first]
    assert {event.sampling_weight for event in before} == {10.0}
    assert 30 < len([e for e in before if e.metadata["index"] < 600]) < 100
    # After a flag: every one of the next `window` events kept, at weight 1.
    for index in flagged:
        for after in range(index + 1, min(index + 1 + window, len(latencies))):
            assert after in by_index
            assert by_index[after].sampling_weight == 1.0
    # And the streaming statistics still count all 1,000 events.
    live = await rt.streaming_metrics(experiment.id)
    assert live.latency.count == 1_000
    assert live.latency.max == max(latencies)


def by_index_of(events: list[Event], event_id: str) -> int:
    return next(event.metadata["index"] for event in events if event.event_id == event_id)


# ---------------------------------------------- live totals and estimates


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(("uniform", "stratified", "metadata")),
    st.integers(0, 1_000),
    st.lists(st.floats(0.0, 10.0), min_size=1, max_size=150),
)
def test_streaming_counts_every_collected_event_and_weighted_metrics_are_horvitz_thompson(
    kind: str, seed: int, costs: list[float]
) -> None:
    sampling: Any = None
    metadata: dict[str, Any] | None = None
    if kind == "uniform":
        sampling = Uniform(0.4, seed=seed)
    elif kind == "stratified":
        sampling = Stratified({True: 0.2, False: 1.0}, seed=seed)
    else:
        metadata = {"sampling_rate": 0.4, "sampling_seed": seed}

    async def main() -> tuple[Any, Any, Any, list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment(
                "ht", events=["app.*"], sampling=sampling, metadata=metadata
            )
            for index, cost in enumerate(costs):
                clock.advance(1_000)
                outcome = {"error": "x"} if index % 5 == 0 else {"response": "ok"}
                emit_call(index, latency_ms=10.0 + index, cost=cost, **outcome)
            await rt.flush()
            return (
                await rt.streaming_metrics(experiment.id),
                await rt.calculate_metrics(experiment.id, weighted=True),
                await rt.calculate_metrics(experiment.id),
                await rt.get_all(experiment.id),
            )

    live, weighted, unweighted, events = anyio.run(main)
    assert live.latency.count == len(costs)
    assert live.cost.count == len(costs)
    assert live.cost.total == pytest.approx(math.fsum(costs), rel=1e-12, abs=1e-300)
    assert live.reliability.failed == len(range(0, len(costs), 5))
    assert live.event_counts == {"app.llm.call": len(costs)}
    assert_close(plain(weighted), metrics_by_hand(events, weighted=True))
    assert_close(plain(unweighted), metrics_by_hand(events))


async def test_weighted_totals_are_unbiased_over_seeded_runs(
    rt: Runtime, clock: FakeClock
) -> None:
    """Over 200 seeded runs, the mean Horvitz-Thompson estimates of the event count and the
    cost total are within 3 standard errors of the true values."""
    costs = [0.001 * (1 + index % 17) for index in range(100)]
    true_total = math.fsum(costs)
    counts, totals = [], []
    for seed in range(200):
        experiment = await rt.start_experiment(f"run {seed}", events=["app.*"],
                                               sampling=Uniform(0.2, seed=seed))  # fmt: skip
        for index, cost in enumerate(costs):
            emit_call(index, cost=cost)
        await rt.flush()
        await rt.stop_experiment(experiment.id)
        metrics = await rt.calculate_metrics(experiment.id, weighted=True)
        counts.append(metrics.summary.total_events)
        totals.append(metrics.cost.total)
        assert (await rt.streaming_metrics(experiment.id)).cost.total == pytest.approx(true_total)
    for estimates, truth in ((counts, len(costs)), (totals, true_total)):
        standard_error = statistics.stdev(estimates) / math.sqrt(len(estimates))
        assert abs(statistics.fmean(estimates) - truth) < 3 * standard_error
        assert standard_error > 0


# ------------------------------------------------------------------ exports


async def test_sampling_weight_is_a_column_of_every_export(rt: Runtime, clock: FakeClock) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    experiment = await rt.start_experiment(
        "export", events=["app.*"], sampling=Uniform(0.5, seed=3)
    )
    for index in range(40):
        clock.advance(1)
        emit_call(index)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    weights = [event.sampling_weight for event in events]
    assert set(weights) == {2.0}

    with (await rt.export(experiment.id, "csv")).open(newline="", encoding="utf-8") as file:
        assert [float(row["sampling_weight"]) for row in csv.DictReader(file)] == weights
    lines = (await rt.export(experiment.id, "jsonl")).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["sampling_weight"] for line in lines] == weights
    table = pq.read_table(await rt.export(experiment.id, "parquet"))
    assert table.column("sampling_weight").to_pylist() == weights

    reservoir_experiment = await rt.start_experiment(
        "reservoir export", events=["app.*"], sampling=Reservoir(4, seed=1)
    )
    await rt.stop_experiment(experiment.id)
    for index in range(10):
        emit_call(index)
    await rt.flush()
    lines = (await rt.export(reservoir_experiment.id, "jsonl")).read_text().splitlines()
    assert [json.loads(line)["sampling_weight"] for line in lines] == [2.5] * 4


async def test_inserted_events_keep_their_own_weight(rt: Runtime) -> None:
    experiment = await rt.start_experiment("inserted")
    await rt.insert(experiment.id, {"timestamp": BASE_US, "sampling_weight": 4.0, "cost_usd": 1.0})
    await rt.insert(experiment.id, {"timestamp": BASE_US + 1, "cost_usd": 2.0})
    metrics = await rt.calculate_metrics(experiment.id, weighted=True)
    assert metrics.summary.total_events == 5
    assert metrics.cost.total == 6.0
    assert [e.sampling_weight for e in await rt.get_all(experiment.id)] == [4.0, 1.0]


async def test_reservoir_over_many_evictions(rt: Runtime, clock: FakeClock) -> None:
    """Enough events that evicted rows are compacted out of the store more than once."""
    experiment = await rt.start_experiment(
        "many", events=["app.*"], sampling=Reservoir(50, seed=8)
    )
    seen = 0
    for count in (5_000, 20_000, 15_000):
        for _ in range(count):
            clock.advance(1)
            emit_call(seen)
            seen += 1
        await rt.flush()
        events = await rt.get_all(experiment.id)
        assert sorted(indices(events)) == sorted(reservoir(8, 50, seen))
        assert {event.sampling_weight for event in events} == {seen / 50}
        assert (await rt.statistics(experiment.id)).stored_events == 50
        window = await rt.query(experiment.id, time_range=(BASE_US, BASE_US + seen // 2))
        assert indices(window) == sorted(i for i in indices(events) if i < seen // 2)


@pytest.mark.parametrize(
    ("by", "metadata", "condition"),
    [
        ("model", {"gen_ai.response.model": "gpt-4"}, "default"),  # the Event field, not a key
        ("provider", {"gen_ai.provider.name": "gpt-4"}, "default"),
        ("condition", {}, "gpt-4"),  # the experiment's field
        ("model", {"model": "gpt-4"}, "default"),
    ],
)
async def test_stratified_by_the_stored_field(
    rt: Runtime, clock: FakeClock, by: str, metadata: dict[str, Any], condition: str
) -> None:
    """The stratum is the stored event's field, wherever enrichment took it from."""
    experiment = await rt.start_experiment(
        "field",
        events=["app.*"],
        condition=condition,
        sampling=Stratified({"gpt-4": 0.25}, by=by, default=1.0, seed=6),
    )
    for index in range(400):
        clock.advance(1)
        emit_call(index, **metadata)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    assert {getattr(event, by) for event in events} == {"gpt-4"}
    assert indices(events) == sorted(kept_by_rates([0.25] * 400, 6))
    assert {event.sampling_weight for event in events} == {4.0}


async def test_an_event_inserted_beside_a_reservoir_keeps_its_own_weight(
    rt: Runtime, clock: FakeClock
) -> None:
    """Inserted events are stored as given, outside the reservoir: never evicted, and their
    weight is their own while the reservoir's events weigh seen / size."""
    experiment = await rt.start_experiment(
        "mixed", events=["app.*"], sampling=Reservoir(4, seed=1)
    )
    inserted = await rt.insert(
        experiment.id, {"timestamp": BASE_US, "cost_usd": 1.0, "sampling_weight": 3.0}
    )
    for index in range(10):
        clock.advance(1)
        emit_call(index, cost=1.0)
    await rt.flush()
    events = await rt.get_all(experiment.id)
    assert events[0] == inserted
    assert [event.sampling_weight for event in events[1:]] == [2.5] * 4
    metrics = await rt.calculate_metrics(experiment.id, weighted=True)
    assert metrics.summary.total_events == 13  # 3 + 10
    assert metrics.cost.total == 13.0
    assert_close(plain(metrics), metrics_by_hand(events, weighted=True))


async def test_weighted_latency_is_not_biased_towards_the_kept_stratum(
    rt: Runtime, clock: FakeClock
) -> None:
    """Failures (1,000 ms) all kept, successes (100 ms) at 10 %: the weighted mean latency and
    count estimate all events (550 ms, 400), where the kept events alone average ~920 ms."""
    counts, means = [], []
    for seed in range(30):
        experiment = await rt.start_experiment(
            f"strata {seed}",
            events=["app.*"],
            sampling=Stratified({False: 1.0, True: 0.1}, seed=seed),
        )
        for index in range(400):
            failed = index % 2 == 0
            emit_call(index, latency_ms=1_000.0 if failed else 100.0,
                      **({"error": "x"} if failed else {"response": "ok"}))  # fmt: skip
        await rt.flush()
        await rt.stop_experiment(experiment.id)
        weighted = await rt.calculate_metrics(experiment.id, weighted=True)
        events = await rt.get_all(experiment.id)
        assert_close(plain(weighted), metrics_by_hand(events, weighted=True))
        counts.append(weighted.latency.count)
        means.append(weighted.latency.mean)
        assert (await rt.calculate_metrics(experiment.id)).latency.mean > 850
    assert statistics.fmean(counts) == pytest.approx(400, rel=0.05)
    assert statistics.fmean(means) == pytest.approx(550, rel=0.05)
