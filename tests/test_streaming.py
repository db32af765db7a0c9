"""Streaming metrics: live Welford statistics, their fields, reset and drops."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from telemetry_actors import (
    Runtime,
    StreamingCost,
    StreamingLatency,
    StreamingMetrics,
    StreamingReliability,
    emit,
)
from telemetry_actors._stats._moments import Moments
from tests.conftest import BASE_US, FakeClock
from tests.strategies import (
    event_lists,
    latencies,
    latency_batches,
    make_event,
    new_store,
    streaming_of,
)

# ------------------------------------------------------------------ fields


async def test_empty_streaming_metrics(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    assert await rt.streaming_metrics(exp.id) == StreamingMetrics(
        latency=StreamingLatency(count=0, mean=None, std_dev=None, min=None, max=None),
        cost=StreamingCost(
            count=0,
            total=0.0,
            mean_per_request=None,
            cost_per_1k_requests=None,
            cost_per_1m_requests=None,
        ),
        reliability=StreamingReliability(
            total_requests=0,
            successful=0,
            failed=0,
            success_rate=None,
            sla_99=None,
            sla_999=None,
            sla_9999=None,
        ),
        event_counts={},
        dropped=0,
    )


async def _insert_rows(rt: Runtime, experiment_id: str, rows: list[dict[str, Any]]) -> None:
    for offset, row in enumerate(rows):
        await rt.insert(experiment_id, {"timestamp": BASE_US + offset, **row})


async def test_streaming_latency_fields(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"latency_ms": x} for x in (10.0, 40.0, 20.0, 30.0)])
    await _insert_rows(rt, exp.id, [{}])  # no latency: not counted
    latency = (await rt.streaming_metrics(exp.id)).latency
    assert latency.count == 4
    assert latency.mean == pytest.approx(25.0, rel=1e-12)
    # Sample standard deviation (n - 1): sqrt(500 / 3).
    assert latency.std_dev == pytest.approx(math.sqrt(500 / 3), rel=1e-12)
    assert latency.min == 10.0
    assert latency.max == 40.0


async def test_streaming_std_dev_is_zero_for_one_value(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"latency_ms": 12.5}])
    latency = (await rt.streaming_metrics(exp.id)).latency
    assert latency == StreamingLatency(
        count=1, mean=12.5, std_dev=0.0, min=12.5, max=12.5, p50=12.5, p90=12.5, p95=12.5, p99=12.5
    )


async def test_streaming_cost_fields(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(
        rt, exp.id, [{"cost_usd": 0.01}, {"cost_usd": 0.02}, {}, {"cost_usd": 0.03}]
    )
    cost = (await rt.streaming_metrics(exp.id)).cost
    assert cost.count == 3
    assert cost.total == pytest.approx(0.06, rel=1e-12)
    assert cost.mean_per_request == pytest.approx(0.02, rel=1e-12)
    assert cost.cost_per_1k_requests == pytest.approx(20.0, rel=1e-12)
    assert cost.cost_per_1m_requests == pytest.approx(20_000.0, rel=1e-12)


async def test_streaming_reliability_counts_only_bool_success(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    rows = [{"success": s} for s in (True, True, None, False, True, None)]
    await _insert_rows(rt, exp.id, rows)
    reliability = (await rt.streaming_metrics(exp.id)).reliability
    assert reliability == StreamingReliability(
        total_requests=4,
        successful=3,
        failed=1,
        success_rate=0.75,
        sla_99=False,
        sla_999=False,
        sla_9999=False,
    )


async def test_streaming_reliability_none_without_bool_success(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"success": None}, {}])
    reliability = (await rt.streaming_metrics(exp.id)).reliability
    assert reliability.total_requests == 0
    assert reliability.success_rate is None
    assert (reliability.sla_99, reliability.sla_999, reliability.sla_9999) == (None, None, None)


async def test_streaming_sla_99_boundary_is_inclusive(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"success": True}] * 99 + [{"success": False}])
    reliability = (await rt.streaming_metrics(exp.id)).reliability
    assert reliability.success_rate == 0.99
    assert (reliability.sla_99, reliability.sla_999, reliability.sla_9999) == (True, False, False)


async def test_streaming_sla_all_successful(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"success": True}] * 3)
    reliability = (await rt.streaming_metrics(exp.id)).reliability
    assert reliability.success_rate == 1.0
    assert (reliability.sla_99, reliability.sla_999, reliability.sla_9999) == (True, True, True)


@pytest.mark.parametrize(
    ("successful", "failed", "flags"),
    [
        (98, 2, (False, False, False)),
        (99, 1, (True, False, False)),
        (999, 1, (True, True, False)),
        (9_999, 1, (True, True, True)),
        (9_998, 2, (True, True, False)),
    ],
)
def test_sla_thresholds(successful: int, failed: int, flags: tuple[bool, bool, bool]) -> None:
    reliability = streaming_of(
        [
            make_event(BASE_US + index, success=index >= failed)
            for index in range(successful + failed)
        ]
    ).reliability
    assert reliability.total_requests == successful + failed
    assert reliability.success_rate == successful / (successful + failed)
    assert (reliability.sla_99, reliability.sla_999, reliability.sla_9999) == flags


async def test_streaming_event_counts_use_dotted_names(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(
        rt,
        exp.id,
        [
            {"event_name": ("req_llm", "request", "stop")},
            {"event_name": "req_llm.request.stop"},
            {"event_name": ("req_llm", "request", "start")},
            {},
        ],
    )
    counts = (await rt.streaming_metrics(exp.id)).event_counts
    assert counts == {"req_llm.request.stop": 2, "req_llm.request.start": 1, "custom.event": 1}


async def test_streaming_metrics_follow_emitted_events(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    emit("req_llm.request.stop", {"duration": 100_000_000}, {"cost": 0.5, "response": "x"})
    emit("req_llm.request.stop", {"duration": 300_000_000}, {"cost": 1.5, "error": "boom"})
    emit("req_llm.request.start", {"system_time": BASE_US})
    await rt.flush()
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.latency.count == 2
    assert metrics.latency.mean == pytest.approx(200.0, rel=1e-12)
    assert metrics.latency.std_dev == pytest.approx(math.sqrt(20_000), rel=1e-12)
    assert metrics.cost.count == 2
    assert metrics.cost.total == pytest.approx(2.0, rel=1e-12)
    assert metrics.reliability.total_requests == 2
    assert metrics.reliability.successful == 1
    assert metrics.reliability.success_rate == 0.5
    assert metrics.event_counts == {"req_llm.request.stop": 2, "req_llm.request.start": 1}


async def test_dropped_counts_full_mailbox_and_survives_reset(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, mailbox_size=1) as rt:
        exp = await rt.start_experiment("drops", events=["drop_test.*"])
        # No await between the emits: the actor cannot run, so the mailbox
        # holds the first and the next two are dropped.
        for _ in range(3):
            emit("drop_test.event", {"duration": 1_000_000}, {"response": "ok"})
        await rt.flush()
        metrics = await rt.streaming_metrics(exp.id)
        assert metrics.dropped == 2
        assert metrics.latency.count == 1
        await rt.reset_streaming_metrics(exp.id)
        after = await rt.streaming_metrics(exp.id)
        assert after.dropped == 2
        assert after.latency.count == 0
        assert len(await rt.get_all(exp.id)) == 1


async def test_reset_clears_statistics_but_keeps_events(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(
        rt,
        exp.id,
        [
            {"latency_ms": 5.0, "cost_usd": 0.1, "success": True},
            {"latency_ms": 7.0, "success": False},
        ],
    )
    await rt.reset_streaming_metrics(exp.id)
    empty = await rt.streaming_metrics(exp.id)
    assert empty.latency == StreamingLatency()
    assert empty.cost == StreamingCost()
    assert empty.reliability == StreamingReliability()
    assert empty.event_counts == {}
    assert empty.dropped == 0
    assert len(await rt.get_all(exp.id)) == 2
    # Counting starts afresh after the reset.
    await rt.insert(exp.id, {"timestamp": BASE_US + 9, "latency_ms": 11.0, "success": True})
    after = await rt.streaming_metrics(exp.id)
    assert after.latency == StreamingLatency(
        count=1, mean=11.0, std_dev=0.0, min=11.0, max=11.0, p50=11.0, p90=11.0, p95=11.0, p99=11.0
    )
    assert after.reliability.total_requests == 1
    assert after.event_counts == {"custom.event": 1}
    assert len(await rt.get_all(exp.id)) == 3


# ------------------------------------------------------------- properties


def well_conditioned(values: list[float]) -> bool:
    """True when the spread is not tiny next to the magnitude (sample variance is stable)."""
    if len(values) < 2 or len(set(values)) == 1:
        return True
    spread = statistics.stdev(values)
    return spread >= 1e-3 * max(abs(x) for x in values)


@settings(max_examples=200, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=60), st.lists(st.integers(0, 60), max_size=6))
def test_running_moments_match_exact_statistics(values: list[float], cuts: list[int]) -> None:
    """Moments folded batch by batch (Chan's merge) equal the exact ones."""
    assume(well_conditioned(values))
    moments = Moments()
    for batch in latency_batches(values, cuts):
        moments.add(batch)
    assert moments.count == len(values)
    assert moments.mean == pytest.approx(statistics.mean(values), rel=1e-9)
    assert moments.min == min(values)
    assert moments.max == max(values)
    expected_std = statistics.stdev(values) if len(values) > 1 else 0.0
    assert moments.std_dev() == pytest.approx(expected_std, rel=1e-9)


def test_running_moments_empty() -> None:
    assert Moments().std_dev() is None
    assert Moments().count == 0
    assert Moments().mean is None


@settings(max_examples=150, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=40), st.lists(latencies, max_size=40))
def test_streaming_stats_cost_total_matches_fsum(
    latency_values: list[float], cost_values: list[float]
) -> None:
    assume(well_conditioned(latency_values))
    snapshot = streaming_of(
        [
            make_event(BASE_US + index, latency_ms=value)
            for index, value in enumerate(latency_values)
        ]
        + [make_event(BASE_US + index, cost_usd=value) for index, value in enumerate(cost_values)]
    )
    assert snapshot.latency.count == len(latency_values)
    assert snapshot.latency.mean == pytest.approx(statistics.mean(latency_values), rel=1e-9)
    assert snapshot.cost.count == len(cost_values)
    assert snapshot.cost.total == pytest.approx(math.fsum(cost_values), rel=1e-9)
    if cost_values:
        assert snapshot.cost.mean_per_request == pytest.approx(
            math.fsum(cost_values) / len(cost_values), rel=1e-9
        )
    else:
        assert snapshot.cost.mean_per_request is None
    assert snapshot.event_counts == {"custom.event": len(latency_values) + len(cost_values)}


#: Identical latencies whose float mean is not exactly the value: the exact std_dev is 0.
IDENTICAL_LATENCY = 43690.970349479976


@settings(max_examples=150, deadline=None)
@given(event_lists(max_size=50))
@example([make_event(BASE_US + i, latency_ms=IDENTICAL_LATENCY) for i in range(3)])
def test_streaming_agrees_with_calculate_metrics(events: list[Any]) -> None:
    assume(well_conditioned([e.latency_ms for e in events if e.latency_ms is not None]))
    store = new_store()
    for event in events:
        store.add_event(event)
    live = store.streaming()
    exact = store.metrics()

    assert live.latency.count == exact.latency.count
    for field in ("mean", "std_dev", "min", "max"):
        got, want = getattr(live.latency, field), getattr(exact.latency, field)
        if want is None:
            assert got is None, field
        else:
            assert got == pytest.approx(want, rel=1e-9), field

    assert live.cost.count == exact.cost.count
    assert live.cost.total == pytest.approx(exact.cost.total, rel=1e-9)
    for field in ("mean_per_request", "cost_per_1k_requests", "cost_per_1m_requests"):
        got, want = getattr(live.cost, field), getattr(exact.cost, field)
        if want is None:
            assert got is None, field
        else:
            assert got == pytest.approx(want, rel=1e-9), field

    assert live.reliability.successful == exact.reliability.successful
    assert live.reliability.failed == exact.reliability.failed
    assert live.reliability.success_rate == exact.reliability.success_rate
    assert live.event_counts == exact.summary.event_types


async def test_streaming_and_analysis_agree_on_identical_latencies(rt: Runtime) -> None:
    exp = await rt.start_experiment("stream")
    await _insert_rows(rt, exp.id, [{"latency_ms": IDENTICAL_LATENCY}] * 3)
    live = (await rt.streaming_metrics(exp.id)).latency
    exact = (await rt.calculate_metrics(exp.id)).latency
    assert live.std_dev == 0.0
    assert exact.std_dev is not None
    assert live.std_dev == pytest.approx(exact.std_dev, rel=1e-9)
