"""windowed_metrics with percentiles and filters, through the runtime, against brute force."""

from __future__ import annotations

import math
from typing import Any

import anyio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, Runtime, WindowMetrics, emit
from tests.conftest import BASE_US, FakeClock
from tests.strategies import latencies

NAMES = ("app.llm.call", "app.tool.run")
PERCENTILES = (50, 95, 99)


def brute_force(
    events: list[Event], window_us: int, step_us: int, percentiles: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Every non-empty window of the contract's rule, each computed from scratch."""
    if not events:
        return []
    stamps = [event.timestamp for event in events]
    first, last = min(stamps), max(stamps)
    windows = []
    start = first
    while start + window_us <= last + step_us:
        inside = [e for e in events if start <= e.timestamp < start + window_us]
        if inside:
            values = [e.latency_ms for e in inside if e.latency_ms is not None]
            windows.append(
                {
                    "window_start": start,
                    "window_end": start + window_us,
                    "event_count": len(inside),
                    "mean_latency": math.fsum(values) / len(values) if values else None,
                    "total_cost": math.fsum(e.cost_usd for e in inside if e.cost_usd is not None),
                    "success_count": sum(e.success is True for e in inside),
                    "failure_count": sum(e.success is False for e in inside),
                    "latency_percentiles": {
                        float(q): float(np.percentile(values, q)) if values else None
                        for q in percentiles
                    }
                    if percentiles
                    else None,
                }
            )
        start += step_us
    return windows


def assert_windows(got: list[WindowMetrics], want: list[dict[str, Any]]) -> None:
    assert [w.window_start for w in got] == [w["window_start"] for w in want]
    for window, expected in zip(got, want, strict=True):
        assert window.window_end == expected["window_end"]
        assert window.event_count == expected["event_count"]
        assert (window.success_count, window.failure_count) == (
            expected["success_count"],
            expected["failure_count"],
        )
        assert window.total_cost == pytest.approx(expected["total_cost"], rel=1e-9, abs=1e-12)
        if expected["mean_latency"] is None:
            assert window.mean_latency is None
        else:
            assert window.mean_latency == pytest.approx(expected["mean_latency"], rel=1e-9)
        if expected["latency_percentiles"] is None:
            assert window.latency_percentiles is None
            continue
        assert window.latency_percentiles is not None
        assert list(window.latency_percentiles) == list(expected["latency_percentiles"])
        for q, value in expected["latency_percentiles"].items():
            if value is None:
                assert window.latency_percentiles[q] is None
            else:
                assert window.latency_percentiles[q] == pytest.approx(value, rel=1e-12, abs=0)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "offset": draw(st.integers(0, 2_000)),
        "name": draw(st.sampled_from(NAMES)),
        "latency": draw(st.none() | latencies),
        "cost": draw(st.none() | st.floats(0.0, 1.0)),
        "success": draw(st.sampled_from((True, False, None))),
        "inserted": draw(st.booleans()),
    }


async def fill(rt: Runtime, clock: FakeClock, steps: list[dict[str, Any]]) -> str:
    experiment = await rt.start_experiment("windows", events=["app.*"])
    for step in steps:
        if step["inserted"]:
            await rt.insert(
                experiment.id,
                {
                    "timestamp": BASE_US + step["offset"],
                    "event_name": tuple(step["name"].split(".")),
                    "latency_ms": step["latency"],
                    "cost_usd": step["cost"],
                    "success": step["success"],
                },
            )
            continue
        clock.now = BASE_US + step["offset"]
        measurements = {} if step["latency"] is None else {"duration": step["latency"] * 1e6}
        metadata: dict[str, Any] = {} if step["cost"] is None else {"cost": step["cost"]}
        if step["success"] is not None:
            metadata["response" if step["success"] else "error"] = "x"
        emit(step["name"], measurements, metadata)
    await rt.flush()
    return experiment.id


def slow(event: Event) -> bool:
    return event.latency_ms is not None and event.latency_ms > 10_000.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows(), max_size=60),
    st.integers(1, 800),
    st.integers(1, 500),
    st.sampled_from(((50, 95, 99), (0, 100), (12.5,), ())),
    st.sampled_from((None, "event_name", "where")),
)
def test_window_percentiles_equal_numpy_over_each_window(
    steps: list[dict[str, Any]],
    window_us: int,
    step_us: int,
    percentiles: tuple[float, ...],
    selection: str | None,
) -> None:
    arguments: dict[str, Any] = {}
    if selection == "event_name":
        arguments["event_name"] = "app.llm.call"
    elif selection == "where":
        arguments["where"] = slow

    async def main() -> tuple[list[WindowMetrics], list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment_id = await fill(rt, clock, steps)
            windows = await rt.windowed_metrics(
                experiment_id, window_us, step_us, percentiles=percentiles, **arguments
            )
            return windows, await rt.get_all(experiment_id)

    windows, events = anyio.run(main)
    if selection == "event_name":
        events = [e for e in events if e.event_name == ("app", "llm", "call")]
    elif selection == "where":
        events = [e for e in events if slow(e)]
    assert_windows(windows, brute_force(events, window_us, step_us, percentiles))


async def test_percentiles_of_a_known_series(rt: Runtime) -> None:
    experiment = await rt.start_experiment("known")
    for second in range(10):
        latency = None if second in (4, 5) else float(second * 10)
        await rt.insert(
            experiment.id, {"timestamp": BASE_US + second * 1_000_000, "latency_ms": latency}
        )
    windows = await rt.windowed_metrics(
        experiment.id, 2_000_000, 2_000_000, percentiles=PERCENTILES
    )
    assert [w.latency_percentiles for w in windows] == [
        {50.0: 5.0, 95.0: 9.5, 99.0: 9.9},
        {50.0: 25.0, 95.0: 29.5, 99.0: 29.9},
        {50.0: None, 95.0: None, 99.0: None},  # events, but no latency
        {50.0: 65.0, 95.0: 69.5, 99.0: 69.9},
        {50.0: 85.0, 95.0: 89.5, 99.0: 89.9},
    ]
    plain = await rt.windowed_metrics(experiment.id, 2_000_000, 2_000_000)
    assert all(w.latency_percentiles is None for w in plain)


@pytest.mark.parametrize(
    ("percentiles", "error", "match"),
    [
        ((50, 101), ValueError, r"percentiles must be numbers in \[0, 100\], got 101"),
        ((-1,), ValueError, r"percentiles must be numbers in \[0, 100\], got -1"),
        ((float("nan"),), ValueError, r"percentiles must be numbers in \[0, 100\], got nan"),
        ((True,), ValueError, r"got True"),
        (("50",), ValueError, r"got '50'"),
        (50, TypeError, "percentiles must be a tuple of numbers, got int"),
    ],
)
async def test_invalid_percentiles_are_refused(
    rt: Runtime, percentiles: Any, error: type[Exception], match: str
) -> None:
    experiment = await rt.start_experiment("bad")
    await rt.insert(experiment.id, {"timestamp": BASE_US, "latency_ms": 1.0})
    with pytest.raises(error, match=match):
        await rt.windowed_metrics(experiment.id, 10, 10, percentiles=percentiles)
