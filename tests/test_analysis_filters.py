"""Filtered analysis through the runtime: calculate_metrics, compare_experiments, breakdown.

Every filtered result is checked against metrics computed by hand
(``tests.reference``) from the events ``query`` returns with the same
filters, over emitted events (enriched, stored as columns) and inserted
events with fields of their own, mixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, Runtime, emit
from tests.conftest import BASE_US, FakeClock
from tests.reference import assert_close, dotted, metrics_by_hand, plain
from tests.strategies import costs, latencies

NAMES = ("app.llm.call", "app.llm.retry", "app.tool.run")
MODELS = ("gpt-4", "claude-3-opus", "local-7b")
PROVIDERS = ("openai", "anthropic")
REGIONS = ("eu", "us")
SPAN_US = 5_000
SECOND_US = 1_000_000

# ------------------------------------------------------------------ scenarios


@st.composite
def emitted(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An event to emit: name, measurements and metadata, with its time offset."""
    measurements: dict[str, Any] = {}
    if draw(st.booleans()):
        measurements["duration"] = draw(st.integers(0, 10_000_000_000))
    metadata: dict[str, Any] = {}
    for key, choices in (("model", MODELS), ("provider", PROVIDERS), ("region", REGIONS)):
        value = draw(st.none() | st.sampled_from(choices))
        if value is not None:
            metadata[key] = value
    if (cost := draw(st.none() | costs)) is not None:
        metadata["cost"] = cost
    outcome = draw(st.sampled_from(("error", "response", None)))
    if outcome == "error":
        metadata["error"] = "timeout"
    elif outcome == "response":
        metadata["response"] = "ok"
    if draw(st.booleans()):
        metadata["tokens"] = {
            "prompt": draw(st.integers(0, 5_000)),
            "completion": draw(st.integers(0, 5_000)),
        }
    return "emit", {
        "offset": draw(st.integers(0, SPAN_US)),
        "name": draw(st.sampled_from(NAMES)),
        "measurements": measurements,
        "metadata": metadata,
    }


@st.composite
def inserted(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An event to insert as given: its own model/provider fields, condition, success."""
    metadata: dict[str, Any] = {}
    if (region := draw(st.none() | st.sampled_from(REGIONS))) is not None:
        metadata["region"] = region
    if draw(st.booleans()):
        metadata["tokens"] = {"prompt": draw(st.integers(0, 99)), "completion": 7}
    return "insert", {
        "timestamp": BASE_US + draw(st.integers(0, SPAN_US)),
        "event_name": tuple(draw(st.sampled_from(NAMES)).split(".")),
        "latency_ms": draw(st.none() | latencies),
        "cost_usd": draw(st.none() | costs),
        "success": draw(st.sampled_from((True, False, None))),
        "model": draw(st.none() | st.sampled_from(MODELS)),
        "provider": draw(st.none() | st.sampled_from(PROVIDERS)),
        "condition": draw(st.sampled_from(("default", "other"))),
        "metadata": metadata,
    }


scenarios = st.lists(st.one_of(emitted(), emitted(), inserted()), min_size=1, max_size=30)


async def fill(rt: Runtime, clock: FakeClock, steps: list[tuple[str, dict[str, Any]]]) -> str:
    """A new experiment holding ``steps``' events (emitted at their offset, or inserted)."""
    experiment = await rt.start_experiment("filters", events=["app.*"])
    for kind, step in steps:
        if kind == "emit":
            clock.now = BASE_US + step["offset"]
            emit(step["name"], step["measurements"], step["metadata"])
        else:
            await rt.insert(experiment.id, step)
    await rt.flush()
    return experiment.id


def latency_above(limit: float) -> Callable[[Event], bool]:
    return lambda event: event.latency_ms is not None and event.latency_ms > limit


FIELD_CHOICES: dict[str, tuple[Any, ...]] = {
    "model": MODELS,
    "provider": PROVIDERS,
    "region": REGIONS,
    "condition": ("default", "other"),
    "success": (True, False),
}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    """Up to three keyword filters for calculate_metrics (``where`` as a predicate)."""
    kinds = draw(
        st.lists(
            st.sampled_from(("event_name", "time_range", "where", *FIELD_CHOICES)),
            max_size=3,
            unique=True,
        )
    )
    chosen: dict[str, Any] = {}
    for kind in kinds:
        if kind == "event_name":
            name = draw(st.sampled_from(NAMES))
            chosen[kind] = name if draw(st.booleans()) else tuple(name.split("."))
        elif kind == "time_range":
            start = draw(st.integers(0, SPAN_US))
            chosen[kind] = (BASE_US + start, BASE_US + draw(st.integers(start, SPAN_US)))
        elif kind == "where":
            chosen[kind] = latency_above(draw(st.floats(0.0, 5_000.0)))
        else:
            chosen[kind] = draw(st.sampled_from(FIELD_CHOICES[kind]))
    return chosen


async def queried(rt: Runtime, experiment_id: str, chosen: dict[str, Any]) -> list[Event]:
    """The events ``query`` returns for the same filters, then ``where`` applied by hand."""
    arguments = dict(chosen)
    where = arguments.pop("where", None)
    events = await rt.query(experiment_id, **arguments)
    return [event for event in events if where is None or where(event)]


# ---------------------------------------------------------- calculate_metrics


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios, filters())
def test_filtered_metrics_equal_metrics_of_the_queried_events(
    steps: list[tuple[str, dict[str, Any]]], chosen: dict[str, Any]
) -> None:
    async def main() -> tuple[Any, list[Event], Any]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment_id = await fill(rt, clock, steps)
            metrics = await rt.calculate_metrics(experiment_id, **chosen)
            return (
                metrics,
                await queried(rt, experiment_id, chosen),
                await rt.get_all(experiment_id),
            )

    metrics, events, everything = anyio.run(main)
    assert len(everything) == len(steps)
    assert metrics.summary.total_events == len(events)
    assert_close(plain(metrics), metrics_by_hand(events))


async def test_filters_on_a_known_experiment(rt: Runtime, clock: FakeClock) -> None:
    """Hand-picked events: each filter keeps exactly the events a reader expects."""
    steps = [
        ("emit", {"offset": 0, "name": "app.llm.call", "measurements": {"duration": 100_000_000},
                  "metadata": {"model": "gpt-4", "provider": "openai", "region": "eu",
                               "response": "x"}}),
        ("emit", {"offset": 10, "name": "app.llm.call", "measurements": {"duration": 300_000_000},
                  "metadata": {"model": "claude-3-opus", "provider": "anthropic",
                               "error": "boom"}}),
        ("emit", {"offset": 20, "name": "app.tool.run", "measurements": {"duration": 50_000_000},
                  "metadata": {"region": "us"}}),
        ("insert", {"timestamp": BASE_US + 30, "event_name": ("app", "llm", "call"),
                    "latency_ms": 200.0, "model": "gpt-4", "success": True,
                    "metadata": {"region": "eu"}}),
    ]  # fmt: skip
    experiment_id = await fill(rt, clock, steps)

    by_model = await rt.calculate_metrics(experiment_id, model="gpt-4")
    assert by_model.latency.count == 2
    assert by_model.latency.mean == pytest.approx(150.0)
    assert by_model.reliability.successful == 2

    by_region = await rt.calculate_metrics(experiment_id, region="eu", event_name="app.llm.call")
    assert by_region.summary.total_events == 2
    assert by_region.latency.max == 200.0

    slow = await rt.calculate_metrics(experiment_id, where=latency_above(150.0))
    assert slow.latency.count == 2
    assert slow.latency.min == 200.0

    window = await rt.calculate_metrics(experiment_id, time_range=(BASE_US + 10, BASE_US + 20))
    assert window.summary.total_events == 2
    assert window.summary.time_range == (BASE_US + 10, BASE_US + 20)
    assert window.events == {"app.llm.call": 1, "app.tool.run": 1}

    nothing = await rt.calculate_metrics(experiment_id, provider="nobody")
    assert nothing.summary.total_events == 0
    assert nothing.latency.count == 0


async def test_a_filter_error_is_raised_to_the_caller(rt: Runtime, clock: FakeClock) -> None:
    experiment_id = await fill(rt, clock, [("insert", {"timestamp": BASE_US, "latency_ms": 1.0})])
    with pytest.raises(ValueError, match="time_range"):
        await rt.calculate_metrics(experiment_id, time_range=(1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="where must be a callable"):
        await rt.calculate_metrics(experiment_id, where=3)  # type: ignore[arg-type]

    def broken(event: Event) -> bool:
        raise KeyError("from the predicate")

    with pytest.raises(KeyError, match="from the predicate"):
        await rt.calculate_metrics(experiment_id, where=broken)
    assert (await rt.calculate_metrics(experiment_id)).latency.count == 1


# -------------------------------------------------------- compare_experiments


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios, scenarios, filters())
def test_filtered_comparison_equals_metrics_of_the_queried_events(
    first: list[tuple[str, dict[str, Any]]],
    second: list[tuple[str, dict[str, Any]]],
    chosen: dict[str, Any],
) -> None:
    async def main() -> tuple[Any, list[str], list[list[Event]]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            ids = [await fill(rt, clock, first)]
            await rt.stop_experiment(ids[0])
            ids.append(await fill(rt, clock, second))
            comparison = await rt.compare_experiments(ids, **chosen)
            return comparison, ids, [await queried(rt, i, chosen) for i in ids]

    comparison, ids, events = anyio.run(main)
    assert comparison.experiments == ids
    expected = [metrics_by_hand(side) for side in events]
    for experiment_id, want in zip(ids, expected, strict=True):
        assert_close(plain(comparison.individual[experiment_id]), want)
    delta = comparison.comparison["treatment_1"]
    before, after = (e["reliability"]["success_rate"] for e in expected)
    assert delta.event_count_difference == len(events[1]) - len(events[0])
    assert delta.cost_difference_usd == pytest.approx(
        expected[1]["cost"]["total"] - expected[0]["cost"]["total"], rel=1e-9, abs=1e-12
    )
    if before is None or after is None:
        assert delta.success_rate_difference_pp is None
    else:
        assert delta.success_rate_difference_pp == pytest.approx((after - before) * 100)


async def test_success_rate_difference_is_in_percentage_points(rt: Runtime) -> None:
    """97 % -> 99 %: +2 points, and a relative improvement of 2.06 %."""
    ids = []
    for successes in (97, 99):
        experiment = await rt.start_experiment(f"rate {successes}")
        for index in range(100):
            await rt.insert(
                experiment.id, {"timestamp": BASE_US + index, "success": index < successes}
            )
        ids.append(experiment.id)
    delta = (await rt.compare_experiments(ids)).comparison["treatment_1"]
    assert delta.success_rate_difference_pp == pytest.approx(2.0, rel=1e-12)
    assert delta.success_rate_improvement_pct == pytest.approx((0.99 - 0.97) / 0.97 * 100)


async def test_compare_with_filters_compares_only_matching_events(rt: Runtime) -> None:
    ids = []
    for latency in (100.0, 150.0):
        experiment = await rt.start_experiment(f"latency {latency}")
        for index, model in enumerate(("gpt-4", "local-7b")):
            # the local model is ten times slower on both sides
            factor = 10.0 if model == "local-7b" else 1.0
            await rt.insert(
                experiment.id,
                {"timestamp": BASE_US + index, "latency_ms": latency * factor, "model": model},
            )
        ids.append(experiment.id)
    delta = (await rt.compare_experiments(ids, model="gpt-4")).comparison["treatment_1"]
    assert delta.latency_improvement_pct == pytest.approx(50.0)
    assert delta.event_count_difference == 0


# ---------------------------------------------------------------- breakdown


def _value_of(event: Event, by: str) -> Any:
    if by == "event_name":
        return dotted(event.event_name)
    if by in Event.__struct_fields__:
        return getattr(event, by)
    return event.metadata.get(by)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios, st.sampled_from(("model", "provider", "event_name", "condition", "success",
                                   "region")))  # fmt: skip
def test_breakdown_groups_equal_filtered_metrics(
    steps: list[tuple[str, dict[str, Any]]], by: str
) -> None:
    """Each group of ``breakdown(id, by)`` is ``calculate_metrics`` of its events; None groups
    the events without the field, and the groups cover every event once."""

    async def main() -> tuple[dict[Any, Any], dict[Any, Any], list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment_id = await fill(rt, clock, steps)
            groups = await rt.breakdown(experiment_id, by)
            filtered = {}
            for value in groups:
                if value is None:
                    filtered[value] = await rt.calculate_metrics(
                        experiment_id, where=lambda e: _value_of(e, by) is None
                    )
                elif by == "event_name":
                    filtered[value] = await rt.calculate_metrics(experiment_id, event_name=value)
                else:
                    filtered[value] = await rt.calculate_metrics(experiment_id, **{by: value})
            return groups, filtered, await rt.get_all(experiment_id)

    groups, filtered, events = anyio.run(main)
    expected_keys = {_value_of(event, by) for event in events}
    assert set(groups) == expected_keys
    assert sum(metrics.summary.total_events for metrics in groups.values()) == len(events)
    for value, metrics in groups.items():
        assert plain(metrics, keep_seconds=True) == plain(filtered[value], keep_seconds=True)
        members = [event for event in events if _value_of(event, by) == value]
        assert_close(plain(metrics), metrics_by_hand(members))


async def test_breakdown_by_model_with_missing_values(rt: Runtime, clock: FakeClock) -> None:
    steps = [
        ("emit", {"offset": 0, "name": "app.llm.call", "measurements": {"duration": 10**8},
                  "metadata": {"model": "gpt-4", "cost": 0.5}}),
        ("emit", {"offset": 1, "name": "app.llm.call", "measurements": {"duration": 3 * 10**8},
                  "metadata": {"model": "gpt-4", "cost": 0.25}}),
        ("emit", {"offset": 2, "name": "app.tool.run", "measurements": {"duration": 10**6},
                  "metadata": {}}),
        ("insert", {"timestamp": BASE_US + 3, "event_name": ("app", "llm", "retry"),
                    "model": "local-7b", "latency_ms": 7.0}),
    ]  # fmt: skip
    experiment_id = await fill(rt, clock, steps)
    groups = await rt.breakdown(experiment_id, "model")
    assert list(groups) == ["gpt-4", None, "local-7b"]  # first-seen order
    assert groups["gpt-4"].latency.mean == pytest.approx(200.0)
    assert groups["gpt-4"].cost.total == 0.75
    assert groups[None].events == {"app.tool.run": 1}
    assert groups["local-7b"].latency.max == 7.0
    names = await rt.breakdown(experiment_id, "event_name", model="gpt-4")
    assert set(names) == {"app.llm.call"}
    assert names["app.llm.call"].summary.total_events == 2


async def test_breakdown_needs_a_name(rt: Runtime) -> None:
    experiment = await rt.start_experiment("b")
    with pytest.raises(TypeError, match="by must be a field name"):
        await rt.breakdown(experiment.id, "")


# --------------------------------------------------- active and paused time


async def test_active_and_paused_seconds_follow_the_pause_history(
    rt: Runtime, clock: FakeClock
) -> None:
    experiment = await rt.start_experiment("timed")

    async def seconds() -> tuple[float | None, float | None]:
        summary = (await rt.calculate_metrics(experiment.id)).summary
        return summary.active_seconds, summary.paused_seconds

    clock.advance(10 * SECOND_US)
    assert await seconds() == (10.0, 0.0)
    await rt.pause_experiment(experiment.id)
    clock.advance(5 * SECOND_US)
    assert await seconds() == (10.0, 5.0)  # an open pause counts up to now
    await rt.resume_experiment(experiment.id)
    clock.advance(2_500_000)
    assert await seconds() == (12.5, 5.0)
    await rt.pause_experiment(experiment.id)
    clock.advance(SECOND_US)
    await rt.resume_experiment(experiment.id)
    clock.advance(SECOND_US)
    await rt.stop_experiment(experiment.id)
    clock.advance(100 * SECOND_US)  # stopped: time no longer counts
    assert await seconds() == (13.5, 6.0)
    for by in ("model", "event_name"):
        assert (await rt.breakdown(experiment.id, by)) == {}


async def test_a_pause_open_at_stop_ends_at_the_stop(rt: Runtime, clock: FakeClock) -> None:
    experiment = await rt.start_experiment("stopped while paused")
    await rt.insert(experiment.id, {"timestamp": BASE_US, "latency_ms": 1.0})
    clock.advance(3 * SECOND_US)
    await rt.pause_experiment(experiment.id)
    clock.advance(4 * SECOND_US)
    await rt.stop_experiment(experiment.id)
    clock.advance(60 * SECOND_US)
    summary = (await rt.calculate_metrics(experiment.id)).summary
    assert (summary.active_seconds, summary.paused_seconds) == (3.0, 4.0)
    group = (await rt.breakdown(experiment.id, "model"))[None]
    assert (group.summary.active_seconds, group.summary.paused_seconds) == (3.0, 4.0)


@pytest.mark.parametrize("key", ["model", "provider"])
async def test_a_none_filter_matches_events_without_the_field(
    rt: Runtime, clock: FakeClock, key: str
) -> None:
    """``model=None`` follows query's rule (the field or ``metadata[k]`` equals None), as a
    metadata key does; for emitted events without a model it is the breakdown's None group."""
    genai = "gen_ai.response.model" if key == "model" else "gen_ai.provider.name"
    steps = [
        ("emit", {"offset": 0, "name": "app.llm.call", "measurements": {"duration": 10**6},
                  "metadata": {key: "named"}}),
        ("emit", {"offset": 1, "name": "app.llm.call", "measurements": {"duration": 2 * 10**6},
                  "metadata": {}}),
        ("emit", {"offset": 2, "name": "app.llm.call", "measurements": {"duration": 4 * 10**6},
                  "metadata": {genai: "otel"}}),
    ]  # fmt: skip
    experiment_id = await fill(rt, clock, steps)
    events = await rt.get_all(experiment_id)
    expected = [e for e in events if getattr(e, key) is None or e.metadata.get(key) is None]
    assert [e.latency_ms for e in expected] == [2.0, 4.0]
    assert await rt.query(experiment_id, **{key: None}) == expected
    metrics = await rt.calculate_metrics(experiment_id, **{key: None})
    assert_close(plain(metrics), metrics_by_hand(expected))
    groups = await rt.breakdown(experiment_id, key)
    assert set(groups) == {"named", None, "otel"}
    assert groups[None].latency.mean == 2.0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios, st.sampled_from(("model", "event_name", "success", "region")), filters())
def test_filtered_breakdown_groups_the_queried_events(
    steps: list[tuple[str, dict[str, Any]]], by: str, chosen: dict[str, Any]
) -> None:
    async def main() -> tuple[dict[Any, Any], list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment_id = await fill(rt, clock, steps)
            groups = await rt.breakdown(experiment_id, by, **chosen)
            return groups, await queried(rt, experiment_id, chosen)

    groups, events = anyio.run(main)
    assert list(groups) == list(dict.fromkeys(_value_of(event, by) for event in events))
    for value, metrics in groups.items():
        members = [event for event in events if _value_of(event, by) == value]
        assert_close(plain(metrics), metrics_by_hand(members))
