"""Time-window queries (query_window) and sliding-window metrics (windowed_metrics)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, Last, LastN, Range, Runtime, WindowMetrics
from tests.conftest import BASE_US, FakeClock
from tests.strategies import costs, latencies, make_event, new_store, successes, timestamps

MINUTE_US = 60_000_000


@pytest.fixture
async def seeded(rt: Runtime) -> str:
    """20 events, one a minute from BASE_US + 1 min to BASE_US + 20 min; value i."""
    exp = await rt.start_experiment("windows")
    for i in range(1, 21):
        await rt.insert(
            exp.id,
            {
                "timestamp": BASE_US + i * MINUTE_US,
                "metadata": {"value": i},
                "latency_ms": i * 10.0,
                "cost_usd": 0.001 * i,
                "success": True,
            },
        )
    return exp.id


def values(events: list[Event]) -> list[int]:
    return [event.metadata["value"] for event in events]


NOW = BASE_US + 21 * MINUTE_US

# ------------------------------------------------------------ query_window


async def test_last_minutes(rt: Runtime, seeded: str) -> None:
    events = await rt.query_window(seeded, Last(5, "minutes"), now=NOW)
    assert values(events) == [16, 17, 18, 19, 20]


async def test_last_seconds(rt: Runtime, seeded: str) -> None:
    events = await rt.query_window(seeded, Last(120, "seconds"), now=NOW)
    assert values(events) == [19, 20]


async def test_last_hours(rt: Runtime, seeded: str) -> None:
    events = await rt.query_window(seeded, Last(1, "hours"), now=NOW)
    assert values(events) == list(range(1, 21))


async def test_last_bounds_are_inclusive(rt: Runtime, seeded: str) -> None:
    # now - 5 min is exactly the 15th event, now is exactly the 20th.
    events = await rt.query_window(seeded, Last(5, "minutes"), now=BASE_US + 20 * MINUTE_US)
    assert values(events) == [15, 16, 17, 18, 19, 20]


async def test_last_n(rt: Runtime, seeded: str) -> None:
    assert values(await rt.query_window(seeded, LastN(5))) == [16, 17, 18, 19, 20]
    assert values(await rt.query_window(seeded, LastN(100))) == list(range(1, 21))
    assert await rt.query_window(seeded, LastN(0)) == []


async def test_range_is_inclusive(rt: Runtime, seeded: str) -> None:
    window = Range(BASE_US + 5 * MINUTE_US, BASE_US + 10 * MINUTE_US)
    assert values(await rt.query_window(seeded, window)) == [5, 6, 7, 8, 9, 10]


async def test_range_before_all_events_is_empty(rt: Runtime, seeded: str) -> None:
    window = Range(BASE_US - 10 * MINUTE_US, BASE_US + MINUTE_US - 1)
    assert await rt.query_window(seeded, window) == []


async def test_where_filters_after_the_window(rt: Runtime, seeded: str) -> None:
    events = await rt.query_window(seeded, LastN(10), lambda event: event.metadata["value"] > 15)
    assert values(events) == [16, 17, 18, 19, 20]
    # The window comes first: of the last 3 events none is below 10.
    events = await rt.query_window(seeded, LastN(3), lambda event: event.metadata["value"] < 10)
    assert events == []


@pytest.mark.parametrize(
    ("spec", "form"),
    [
        (Last(5, "minutes"), ("last", 5, "minutes")),
        (Last(120, "seconds"), ("last", 120, "seconds")),
        (Last(1, "hours"), ("last", 1, "hours")),
        (LastN(5), ("last_n", 5)),
        (LastN(0), ("last_n", 0)),
        (
            Range(BASE_US + 5 * MINUTE_US, BASE_US + 10 * MINUTE_US),
            ("range", BASE_US + 5 * MINUTE_US, BASE_US + 10 * MINUTE_US),
        ),
    ],
)
async def test_tuple_forms_match_specs(
    rt: Runtime, seeded: str, spec: Last | LastN | Range, form: tuple[Any, ...]
) -> None:
    expected = await rt.query_window(seeded, spec, now=NOW)
    assert await rt.query_window(seeded, form, now=NOW) == expected
    assert expected or isinstance(spec, LastN)


async def test_now_defaults_to_the_runtime_clock(
    rt: Runtime, seeded: str, clock: FakeClock
) -> None:
    clock.now = NOW
    assert values(await rt.query_window(seeded, Last(5, "minutes"))) == [16, 17, 18, 19, 20]
    clock.now = BASE_US + 10 * MINUTE_US
    assert values(await rt.query_window(seeded, Last(5, "minutes"))) == [5, 6, 7, 8, 9, 10]
    assert values(await rt.query_window(seeded, ("last", 2, "minutes"))) == [8, 9, 10]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Last(5, "days"), "days"),
        (lambda: Last(-1, "minutes"), "-1"),
        (lambda: Last(0, "seconds"), "n > 0"),
        (lambda: LastN(-3), "-3"),
        (lambda: Range(BASE_US + 10, BASE_US), "start"),
    ],
)
def test_invalid_spec_raises_when_made(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("form", "match"),
    [
        (("last", 5, "days"), "days"),
        (("last", -1, "minutes"), "-1"),
        (("last", 0, "seconds"), "n > 0"),
        (("last_n", -3), "-3"),
        (("range", BASE_US + 10, BASE_US), "start"),
    ],
)
async def test_invalid_tuple_form_raises(
    rt: Runtime, seeded: str, form: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await rt.query_window(seeded, form, now=NOW)


# --------------------------------------------------------- windowed_metrics


async def test_windowed_metrics_non_overlapping(rt: Runtime, seeded: str) -> None:
    windows = await rt.windowed_metrics(seeded, 5 * MINUTE_US, 5 * MINUTE_US)
    assert len(windows) == 4
    assert [(w.window_start, w.window_end) for w in windows] == [
        (BASE_US + start * MINUTE_US, BASE_US + (start + 5) * MINUTE_US)
        for start in (1, 6, 11, 16)
    ]
    assert [w.event_count for w in windows] == [5, 5, 5, 5]
    first = windows[0]
    assert first.mean_latency == pytest.approx(30.0)
    assert first.total_cost == pytest.approx(0.015)
    assert first.success_count == 5
    assert first.failure_count == 0
    assert windows[3].mean_latency == pytest.approx(180.0)
    assert windows[3].total_cost == pytest.approx(0.09)


async def test_windowed_metrics_overlapping(rt: Runtime, seeded: str) -> None:
    windows = await rt.windowed_metrics(seeded, 10 * MINUTE_US, 5 * MINUTE_US)
    assert len(windows) == 3
    assert [(w.window_start, w.window_end) for w in windows] == [
        (BASE_US + start * MINUTE_US, BASE_US + (start + 10) * MINUTE_US) for start in (1, 6, 11)
    ]
    assert [w.event_count for w in windows] == [10, 10, 10]
    assert windows[1].mean_latency == pytest.approx(105.0)
    assert windows[1].total_cost == pytest.approx(0.105)


async def test_windowed_metrics_empty_experiment(rt: Runtime) -> None:
    exp = await rt.start_experiment("empty")
    assert await rt.windowed_metrics(exp.id, MINUTE_US, MINUTE_US) == []


@pytest.mark.parametrize(
    ("window_us", "step_us", "match"),
    [(0, MINUTE_US, "window_us"), (-1, MINUTE_US, "window_us"), (MINUTE_US, 0, "step_us")],
)
async def test_windowed_metrics_rejects_non_positive_sizes(
    rt: Runtime, seeded: str, window_us: int, step_us: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await rt.windowed_metrics(seeded, window_us, step_us)


async def test_windowed_metrics_success_failure_and_missing_values(rt: Runtime) -> None:
    exp = await rt.start_experiment("mixed")
    rows: list[dict[str, Any]] = [
        {"timestamp": BASE_US, "success": True, "latency_ms": 10.0},
        {"timestamp": BASE_US + 1, "success": False, "cost_usd": 0.25},
        {"timestamp": BASE_US + 2, "success": None},
        {"timestamp": BASE_US + 3, "success": False, "latency_ms": 30.0},
        # A gap: the windows over it are empty and left out.
        {"timestamp": BASE_US + 100},
    ]
    for row in rows:
        await rt.insert(exp.id, row)
    windows = await rt.windowed_metrics(exp.id, 10, 10)
    assert windows == [
        WindowMetrics(
            window_start=BASE_US,
            window_end=BASE_US + 10,
            event_count=4,
            mean_latency=20.0,
            total_cost=0.25,
            success_count=1,
            failure_count=2,
        ),
        WindowMetrics(
            window_start=BASE_US + 100,
            window_end=BASE_US + 110,
            event_count=1,
            mean_latency=None,
            total_cost=0.0,
            success_count=0,
            failure_count=0,
        ),
    ]


# ------------------------------------------------ windowed_metrics property


def brute_force_windows(events: list[Event], window_us: int, step_us: int) -> list[WindowMetrics]:
    """The contract's definition, window by window over every event."""
    if not events:
        return []
    first = min(event.timestamp for event in events)
    last = max(event.timestamp for event in events)
    result = []
    start = first
    while start + window_us <= last + step_us:
        inside = [event for event in events if start <= event.timestamp < start + window_us]
        if inside:
            window_latencies = [e.latency_ms for e in inside if e.latency_ms is not None]
            result.append(
                WindowMetrics(
                    window_start=start,
                    window_end=start + window_us,
                    event_count=len(inside),
                    mean_latency=math.fsum(window_latencies) / len(window_latencies)
                    if window_latencies
                    else None,
                    total_cost=math.fsum(e.cost_usd for e in inside if e.cost_usd is not None),
                    success_count=sum(e.success is True for e in inside),
                    failure_count=sum(e.success is False for e in inside),
                )
            )
        start += step_us
    return result


@st.composite
def window_events(draw: st.DrawFn) -> list[Event]:
    stamps = draw(st.lists(timestamps(span_us=2_000), max_size=30))
    return [
        make_event(
            stamp,
            latency_ms=draw(st.none() | latencies),
            cost_usd=draw(st.none() | costs),
            success=draw(successes),
        )
        for stamp in stamps
    ]


@settings(max_examples=200, deadline=None)
@given(
    events=window_events(),
    window_us=st.integers(1, 3_000),
    step_us=st.integers(1, 600),
)
def test_windowed_metrics_match_brute_force(
    events: list[Event], window_us: int, step_us: int
) -> None:
    store = new_store()
    for event in events:
        store.add_event(event)
    actual = store.windows(window_us, step_us)
    expected = brute_force_windows(events, window_us, step_us)
    assert [(w.window_start, w.window_end) for w in actual] == [
        (w.window_start, w.window_end) for w in expected
    ]
    # Prefix sums lose at most a few ulps of the running total of all values.
    latency_scale = math.fsum(e.latency_ms for e in events if e.latency_ms is not None)
    cost_scale = math.fsum(e.cost_usd for e in events if e.cost_usd is not None)
    for got, want in zip(actual, expected, strict=True):
        assert got.event_count == want.event_count
        assert got.success_count == want.success_count
        assert got.failure_count == want.failure_count
        if want.mean_latency is None:
            assert got.mean_latency is None
        else:
            assert got.mean_latency == pytest.approx(
                want.mean_latency, rel=1e-9, abs=1e-12 * latency_scale
            )
        assert got.total_cost == pytest.approx(want.total_cost, rel=1e-9, abs=1e-12 * cost_scale)
