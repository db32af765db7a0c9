"""Live percentiles: the sketch's error bound, and the runtime keeping it in step."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Runtime, emit
from telemetry_actors._stats._percentile import percentile
from telemetry_actors._stats._sketch import RELATIVE_ACCURACY, QuantileSketch
from tests.conftest import BASE_US, FakeClock

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)
#: The guarantee, with room for float rounding in the interpolation.
BOUND = RELATIVE_ACCURACY * (1 + 1e-9)

magnitudes = st.floats(min_value=1e-6, max_value=1e12) | st.sampled_from([0.0, 1.0, 1e-9])


def within_bound(estimate: float | None, exact: float) -> bool:
    assert estimate is not None
    return abs(estimate - exact) <= BOUND * abs(exact)


@settings(max_examples=300, deadline=None)
@given(st.lists(magnitudes, min_size=1, max_size=300), st.booleans())
def test_percentiles_are_within_one_percent_of_exact(values: list[float], negate: bool) -> None:
    if negate:  # all of one sign: the bound is relative to the magnitude
        values = [-value for value in values]
    sketch = QuantileSketch()
    sketch.add_many(values)
    ordered = sorted(values)
    for q, estimate in zip(QS, sketch.quantiles(QS), strict=True):
        assert within_bound(estimate, percentile(ordered, q)), (q, estimate)
    assert sketch.quantiles([0.0, 1.0]) == [ordered[0], ordered[-1]]  # clamped to exact ends


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=100), st.integers(1, 5))
def test_mixed_signs_stay_within_the_range_and_chunks_do_not_matter(
    values: list[float], chunks: int
) -> None:
    whole, pieces = QuantileSketch(), QuantileSketch()
    whole.add_many(values)
    size = -(-len(values) // chunks)
    for start in range(0, len(values), size):
        pieces.add_many(values[start : start + size])
    assert pieces.quantiles(QS) == whole.quantiles(QS)
    for estimate in whole.quantiles(QS):
        assert estimate is not None
        assert min(values) <= estimate <= max(values)


def test_empty_sketch_has_no_percentiles() -> None:
    sketch = QuantileSketch()
    sketch.add_many([])
    assert sketch.quantiles((0.5, 0.99)) == [None, None]


def test_tiny_magnitudes_count_as_zero() -> None:
    sketch = QuantileSketch()
    sketch.add_many([0.0, 1e-12, -1e-12, 5.0])
    assert sketch.zeros == 3
    assert sketch.quantiles([0.5]) == [0.0]
    assert sketch.count == 4


def test_memory_stays_a_few_hundred_buckets() -> None:
    sketch = QuantileSketch()
    generator = random.Random(7)
    sketch.add_many([generator.lognormvariate(6, 2) for _ in range(200_000)])
    assert sketch.count == 200_000
    assert len(sketch.positive) < 1_000


# ------------------------------------------------------------- in the runtime


async def test_live_percentiles_follow_emits_and_late_inserts(
    rt: Runtime, clock: FakeClock
) -> None:
    exp = await rt.start_experiment("live", events=["req.*"])
    generator = random.Random(11)
    for round_ in range(4):
        for _ in range(250):
            clock.advance(1_000)
            emit("req.done", {"duration": int(generator.lognormvariate(18, 1))})
        # An event older than everything read so far: stored before the rows
        # the sketch has taken, and still counted once.
        await rt.insert(exp.id, {"timestamp": BASE_US - round_, "latency_ms": 5_000.0 + round_})
        live = (await rt.streaming_metrics(exp.id)).latency
        exact = (await rt.calculate_metrics(exp.id)).latency
        assert live.count == exact.count == 251 * (round_ + 1)
        # Each stored latency went into the sketch exactly once.
        assert rt._registry.lookup(exp.id).stats.sketch.count == live.count
        for name in ("p50", "p90", "p95", "p99"):
            assert within_bound(getattr(live, name), getattr(exact, name)), name


async def test_reset_percentiles_count_only_later_events(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("live", events=["req.*"])
    for duration_ms in (1, 2, 3):
        clock.advance(1_000)
        emit("req.done", {"duration": duration_ms * 1_000_000})
    await rt.flush()
    await rt.reset_streaming_metrics(exp.id)
    assert (await rt.streaming_metrics(exp.id)).latency.p50 is None
    await rt.insert(exp.id, {"timestamp": BASE_US - 5, "latency_ms": 100.0})  # before all rows
    clock.advance(1_000)
    emit("req.done", {"duration": 300_000_000})
    latency = (await rt.streaming_metrics(exp.id)).latency
    assert latency.count == 2
    assert latency.p50 == pytest.approx(200.0, rel=RELATIVE_ACCURACY)
    assert (latency.min, latency.max) == (100.0, 300.0)
