"""Storage and queries: insert, get_all, query, and the EventStore's order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors import Event, ExperimentStatus, LastN, Range, Runtime, emit
from telemetry_actors.testing import inject_crash
from tests.conftest import BASE_US, FakeClock
from tests.strategies import event_lists, new_store

# ------------------------------------------------------------------ insert


async def test_insert_mapping_fills_defaults_from_the_experiment(rt: Runtime) -> None:
    exp = await rt.start_experiment("store", condition="treatment", tags=("a", "b"))
    event = await rt.insert(exp.id, {"timestamp": BASE_US + 5})
    assert isinstance(event.event_id, str)
    assert event.event_id
    assert event.event_name == ("custom", "event")
    assert event.timestamp == BASE_US + 5
    assert event.experiment_id == exp.id
    assert event.experiment_name == "store"
    assert event.condition == "treatment"
    assert event.tags == ("a", "b")
    assert event.measurements == {}
    assert event.metadata == {}
    assert event.latency_ms is None
    assert event.cost_usd is None
    assert event.success is None
    for field in ("session_id", "user_id", "sample_id", "cohort", "model", "provider"):
        assert getattr(event, field) is None, field
    assert await rt.get_all(exp.id) == [event]


async def test_insert_generates_distinct_event_ids(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    first = await rt.insert(exp.id, {"timestamp": BASE_US})
    second = await rt.insert(exp.id, {"timestamp": BASE_US})
    assert first.event_id != second.event_id


async def test_insert_mapping_keeps_given_fields_without_enrichment(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    event = await rt.insert(
        exp.id,
        {
            "timestamp": BASE_US,
            "event_id": "mine",
            "event_name": "req_llm.request.stop",
            # Enrichment would derive 2.0 ms, a cost and success from these: insert must not.
            "measurements": {"duration": 2_000_000},
            "metadata": {"cost": 9.0, "response": "ok", "model": "gpt-4"},
            "latency_ms": 7.5,
        },
    )
    assert event.event_id == "mine"
    assert event.event_name == ("req_llm", "request", "stop")
    assert event.latency_ms == 7.5
    assert event.cost_usd is None
    assert event.success is None
    assert event.model is None
    assert event.measurements == {"duration": 2_000_000}
    assert event.metadata == {"cost": 9.0, "response": "ok", "model": "gpt-4"}
    assert await rt.get_all(exp.id) == [event]


async def test_insert_event_instance_is_stored_as_given(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    given_event = Event(
        event_id="given",
        event_name=("a", "b"),
        timestamp=BASE_US + 1,
        experiment_id="someone-else",
        experiment_name="other",
        condition="c",
        latency_ms=3.0,
        success=False,
    )
    stored = await rt.insert(exp.id, given_event)
    assert stored == given_event
    assert await rt.get_all(exp.id) == [given_event]


async def test_insert_without_timestamp_raises(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    with pytest.raises(ValueError, match="timestamp"):
        await rt.insert(exp.id, {"event_name": ("a", "b")})
    assert await rt.get_all(exp.id) == []


async def test_insert_unknown_field_raises(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    with pytest.raises(ValueError, match="bogus_field"):
        await rt.insert(exp.id, {"timestamp": BASE_US, "bogus_field": 1})
    assert await rt.get_all(exp.id) == []


@pytest.mark.parametrize("status", ["paused", "stopped", "archived"])
async def test_insert_works_in_any_status(rt: Runtime, tmp_path: Path, status: str) -> None:
    exp = await rt.start_experiment("store")
    if status == "paused":
        await rt.pause_experiment(exp.id)
    elif status == "stopped":
        await rt.stop_experiment(exp.id)
    else:
        await rt.archive(exp.id, path=tmp_path / "archive.jsonl")
    assert (await rt.get_experiment(exp.id)).status == ExperimentStatus(status)
    event = await rt.insert(exp.id, {"timestamp": BASE_US, "latency_ms": 4.0})
    assert await rt.get_all(exp.id) == [event]
    assert (await rt.streaming_metrics(exp.id)).latency.count == 1


async def test_insert_works_when_failed(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, max_restarts=0) as runtime:
        exp = await runtime.start_experiment("store")
        await inject_crash(runtime, exp.id)
        assert (await runtime.get_experiment(exp.id)).status is ExperimentStatus.FAILED
        event = await runtime.insert(exp.id, {"timestamp": BASE_US})
        assert await runtime.get_all(exp.id) == [event]


async def test_inserted_events_count_in_streaming_metrics(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    await rt.insert(exp.id, {"timestamp": BASE_US, "latency_ms": 10.0, "success": True})
    await rt.insert(
        exp.id,
        {
            "timestamp": BASE_US + 1,
            "event_name": ("x", "y"),
            "latency_ms": 30.0,
            "cost_usd": 0.5,
            "success": False,
        },
    )
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.latency.count == 2
    assert metrics.latency.mean == 20.0
    assert metrics.cost.count == 1
    assert metrics.cost.total == 0.5
    assert metrics.reliability.total_requests == 2
    assert metrics.reliability.successful == 1
    assert metrics.event_counts == {"custom.event": 1, "x.y": 1}


# ----------------------------------------------------------------- get_all


async def test_get_all_is_time_ordered_with_ties_in_arrival_order(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    arrivals = [(3, "a"), (1, "b"), (2, "c"), (1, "d"), (2, "e"), (0, "f"), (3, "g")]
    for offset, event_id in arrivals:
        await rt.insert(exp.id, {"timestamp": BASE_US + offset, "event_id": event_id})
    stored = await rt.get_all(exp.id)
    assert [event.event_id for event in stored] == ["f", "b", "d", "c", "e", "a", "g"]


async def test_get_all_merges_emitted_and_inserted_events_by_time(
    rt: Runtime, clock: FakeClock
) -> None:
    exp = await rt.start_experiment("store", events=["store_test.*"])
    clock.advance(10)
    emit("store_test.emitted", {"duration": 1_000_000})
    await rt.flush()
    await rt.insert(exp.id, {"timestamp": BASE_US + 5, "event_id": "early"})
    await rt.insert(exp.id, {"timestamp": BASE_US + 20, "event_id": "late"})
    stored = await rt.get_all(exp.id)
    assert [event.timestamp for event in stored] == [BASE_US + 5, BASE_US + 10, BASE_US + 20]
    assert stored[0].event_id == "early"
    assert stored[1].event_name == ("store_test", "emitted")
    assert stored[2].event_id == "late"


async def test_get_all_empty(rt: Runtime) -> None:
    exp = await rt.start_experiment("store")
    assert await rt.get_all(exp.id) == []


# ------------------------------------------------------------------- query


async def _seed_query_events(rt: Runtime) -> tuple[str, list[Event]]:
    exp = await rt.start_experiment("query")
    rows = [
        {
            "timestamp": BASE_US + 1,
            "event_name": ("req_llm", "request", "stop"),
            "success": True,
            "metadata": {"user": "u1", "model": "gpt-4"},
        },
        {
            "timestamp": BASE_US + 2,
            "event_name": ("req_llm", "request", "start"),
            "metadata": {"user": "u2"},
            "session_id": "s-field",
        },
        {
            "timestamp": BASE_US + 3,
            "event_name": ("req_llm", "request", "stop"),
            "success": False,
            "condition": "treatment",
            "metadata": {"user": "u1"},
        },
        {
            "timestamp": BASE_US + 4,
            "event_name": ("custom", "event"),
            "success": True,
            "metadata": {"model": "claude-3-opus"},
            "provider": "anthropic",
        },
    ]
    stored = [await rt.insert(exp.id, row) for row in rows]
    return exp.id, stored


async def test_query_without_filters_returns_everything(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id) == stored


async def test_query_event_name_tuple_or_dotted(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    expected = [stored[0], stored[2]]
    assert await rt.query(exp_id, event_name=("req_llm", "request", "stop")) == expected
    assert await rt.query(exp_id, event_name="req_llm.request.stop") == expected
    assert await rt.query(exp_id, event_name="custom.event") == [stored[3]]
    assert await rt.query(exp_id, event_name="no.such.event") == []


async def test_query_success(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id, success=True) == [stored[0], stored[3]]
    assert await rt.query(exp_id, success=False) == [stored[2]]


async def test_query_time_range_is_inclusive(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id, time_range=(BASE_US + 2, BASE_US + 3)) == stored[1:3]
    assert await rt.query(exp_id, time_range=(BASE_US + 4, BASE_US + 4)) == [stored[3]]
    assert await rt.query(exp_id, time_range=(BASE_US + 5, BASE_US + 9)) == []


async def test_query_condition(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id, condition="treatment") == [stored[2]]
    assert await rt.query(exp_id, condition="default") == [stored[0], stored[1], stored[3]]


async def test_query_metadata_keyword(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id, user="u1") == [stored[0], stored[2]]
    assert await rt.query(exp_id, user="u2") == [stored[1]]
    assert await rt.query(exp_id, model="claude-3-opus") == [stored[3]]
    assert await rt.query(exp_id, user="nobody") == []


async def test_query_event_field_keyword(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    # These values live only in the Event fields, not in the metadata.
    assert await rt.query(exp_id, session_id="s-field") == [stored[1]]
    assert await rt.query(exp_id, provider="anthropic") == [stored[3]]
    assert await rt.query(exp_id, event_id=stored[2].event_id) == [stored[2]]


async def test_query_several_filters_must_all_hold(rt: Runtime) -> None:
    exp_id, stored = await _seed_query_events(rt)
    assert await rt.query(exp_id, event_name="req_llm.request.stop", user="u1") == [
        stored[0],
        stored[2],
    ]
    assert await rt.query(exp_id, event_name="req_llm.request.stop", user="u1", success=False) == [
        stored[2]
    ]
    assert await rt.query(
        exp_id, event_name="req_llm.request.stop", time_range=(BASE_US, BASE_US + 2)
    ) == [stored[0]]
    assert await rt.query(exp_id, condition="treatment", success=True) == []
    assert await rt.query(exp_id, user="u1", model="gpt-4", success=True) == [stored[0]]


# ------------------------------------------------------ EventStore property


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    arrivals=event_lists(max_size=40, span_us=30),
)
def test_event_store_order_and_lookups_match_brute_force(
    data: st.DataObject, arrivals: list[Event]
) -> None:
    store = new_store()
    for event in arrivals:
        store.add_event(event)
    # Python's sort is stable: ties keep their arrival order.
    expected = sorted(arrivals, key=lambda event: event.timestamp)
    assert [event.event_id for event in store.all()] == [event.event_id for event in expected]
    assert len(store) == len(arrivals)
    if expected:
        assert store.time_range() == (expected[0].timestamp, expected[-1].timestamp)
    else:
        assert store.time_range() is None

    start = data.draw(st.integers(BASE_US - 5, BASE_US + 35), label="start")
    end = data.draw(st.integers(start, BASE_US + 40), label="end")
    inside = [event for event in expected if start <= event.timestamp <= end]
    assert [event.event_id for event in store.between(start, end)] == [
        event.event_id for event in inside
    ]

    n = data.draw(st.integers(0, len(arrivals) + 3), label="n")
    tail = expected[max(0, len(expected) - n) :] if n else []
    assert [event.event_id for event in store.last(n)] == [event.event_id for event in tail]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timestamp": 2**70}, "int64"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"timestamp": BASE_US, "event_name": ()}, "event name"),
    ],
)
async def test_insert_rejects_unstorable_mappings(
    rt: Runtime, fields: dict[str, object], message: str
) -> None:
    exp = await rt.start_experiment("bad-insert")
    with pytest.raises(ValueError, match=message):
        await rt.insert(exp.id, fields)
    assert await rt.get_all(exp.id) == []


@pytest.mark.parametrize(
    ("timestamp", "name", "message"),
    [
        (2**63, ("a", "b"), "int64"),
        (1.5, ("a", "b"), "timestamp"),
        (BASE_US, "a.b", "tuple of str"),
        (BASE_US, ("a", 1), "str"),
    ],
)
async def test_insert_rejects_unstorable_events(
    rt: Runtime, timestamp: object, name: object, message: str
) -> None:
    exp = await rt.start_experiment("bad-event")
    event = Event("id-1", name, timestamp, exp.id, exp.name, "default")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        await rt.insert(exp.id, event)
    assert (await rt.streaming_metrics(exp.id)).latency.count == 0
    assert await rt.get_all(exp.id) == []


async def test_emitted_events_older_than_the_newest_are_placed_in_time_order(
    rt: Runtime, clock: FakeClock
) -> None:
    # A clock that steps back (threads stamping just before one another) makes
    # the actor insert rather than append; every column must stay aligned.
    exp = await rt.start_experiment("out-of-order", events=["ooo.*"])
    offsets = [50, 10, 30, 10, 70, 0]
    for position, offset in enumerate(offsets):
        clock.now = BASE_US + offset
        emit("ooo.tick", {"duration": (position + 1) * 1_000_000}, {"position": position})
    await rt.flush()
    events = await rt.get_all(exp.id)
    assert [event.timestamp - BASE_US for event in events] == [0, 10, 10, 30, 50, 70]
    assert [event.metadata["position"] for event in events] == [5, 1, 3, 2, 0, 4]
    assert [event.latency_ms for event in events] == [6.0, 2.0, 4.0, 3.0, 1.0, 5.0]
    window = await rt.query_window(exp.id, Range(BASE_US + 10, BASE_US + 30))
    assert [event.metadata["position"] for event in window] == [1, 3, 2]


async def test_cleanup_releases_a_large_store_and_readers_keep_their_events(
    clock: FakeClock,
) -> None:
    """A store past RELEASE_OFF_LOOP_ROWS is emptied at cleanup (its blocks dropped in a
    worker thread); events a reader already holds are untouched."""
    from telemetry_actors._storage._memory import RELEASE_OFF_LOOP_ROWS

    n = RELEASE_OFF_LOOP_ROWS + 100
    async with Runtime(clock=clock, mailbox_size=n + 1024) as rt:
        exp = await rt.start_experiment("large")
        for i in range(n):
            emit("req_llm.request.stop", {"duration": i})
        await rt.flush()
        store = rt._registry.lookup(exp.id).store
        assert len(store) == n
        held = (await rt.query_window(exp.id, LastN(n)))[:3]
        await rt.cleanup(exp.id)
        assert len(store) == 0
        assert store.blocks() == ()
        assert [event.measurements["duration"] for event in held] == [0, 1, 2]
        assert await rt.list_experiments() == []
