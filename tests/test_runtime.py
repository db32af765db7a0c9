"""Runtime lifecycle: open/close, drain on exit, isolation, validation, clock, backends."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from telemetry_actors import (
    ExperimentNotFoundError,
    ExperimentStatus,
    Last,
    LastN,
    Runtime,
    RuntimeClosedError,
    emit,
)
from telemetry_actors._storage._reads import all_events
from telemetry_actors.testing import inject_crash
from tests.conftest import BASE_US, FakeClock

BASE_DT = datetime(2025, 1, 1, tzinfo=UTC)
STOP = "req_llm.request.stop"
SOME_ID = "0123456789abcdef"

RuntimeCall = Callable[[Runtime], Awaitable[Any]]

#: One entry per public coroutine of Runtime (plus testing.inject_crash).
RUNTIME_CALLS: dict[str, RuntimeCall] = {
    "start_experiment": lambda rt: rt.start_experiment("late"),
    "flush": lambda rt: rt.flush(),
    "get_experiment": lambda rt: rt.get_experiment(SOME_ID),
    "list_experiments": lambda rt: rt.list_experiments(),
    "is_paused": lambda rt: rt.is_paused(SOME_ID),
    "cleanup": lambda rt: rt.cleanup(SOME_ID),
    "pause_experiment": lambda rt: rt.pause_experiment(SOME_ID),
    "resume_experiment": lambda rt: rt.resume_experiment(SOME_ID),
    "stop_experiment": lambda rt: rt.stop_experiment(SOME_ID),
    "insert": lambda rt: rt.insert(SOME_ID, {"timestamp": BASE_US}),
    "get_all": lambda rt: rt.get_all(SOME_ID),
    "query": lambda rt: rt.query(SOME_ID),
    "query_window": lambda rt: rt.query_window(SOME_ID, LastN(1)),
    "windowed_metrics": lambda rt: rt.windowed_metrics(SOME_ID, 10, 10),
    "streaming_metrics": lambda rt: rt.streaming_metrics(SOME_ID),
    "reset_streaming_metrics": lambda rt: rt.reset_streaming_metrics(SOME_ID),
    "calculate_metrics": lambda rt: rt.calculate_metrics(SOME_ID),
    "compare_experiments": lambda rt: rt.compare_experiments([SOME_ID, SOME_ID]),
    "export": lambda rt: rt.export(SOME_ID, "csv"),
    "export_multiple": lambda rt: rt.export_multiple([SOME_ID], "jsonl"),
    "archive": lambda rt: rt.archive(SOME_ID),
    "load_archive": lambda rt: rt.load_archive("nowhere.jsonl"),
    "inject_crash": lambda rt: inject_crash(rt, SOME_ID),
}


def stored_event_count(rt: Runtime) -> int:
    """Events held by the stores of every experiment of ``rt`` (private state)."""
    return sum(len(cell.store) for cell in rt._registry)


# ------------------------------------------------------------------ closed runtime


@pytest.mark.parametrize("call", RUNTIME_CALLS.values(), ids=RUNTIME_CALLS.keys())
async def test_every_call_after_exit_raises_runtime_closed(
    clock: FakeClock, tmp_path: Path, call: RuntimeCall
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        await rt.start_experiment("before")

    with pytest.raises(RuntimeClosedError, match="closed"):
        await call(rt)


@pytest.mark.parametrize("call", RUNTIME_CALLS.values(), ids=RUNTIME_CALLS.keys())
async def test_every_call_on_an_unopened_runtime_raises_runtime_closed(
    clock: FakeClock, tmp_path: Path, call: RuntimeCall
) -> None:
    rt = Runtime(clock=clock, export_dir=tmp_path)

    with pytest.raises(RuntimeClosedError, match="unopened"):
        await call(rt)


async def test_calls_on_ids_of_a_closed_runtime_raise_runtime_closed(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        exp = await rt.start_experiment("known")
        await rt.insert(exp.id, {"timestamp": BASE_US})

    with pytest.raises(RuntimeClosedError):
        await rt.get_all(exp.id)
    with pytest.raises(RuntimeClosedError):
        await rt.get_experiment(exp.id)
    with pytest.raises(RuntimeClosedError):
        await rt.export(exp.id, "csv")
    with pytest.raises(RuntimeClosedError):
        await rt.archive(exp.id)
    with pytest.raises(RuntimeClosedError):
        await rt.is_paused(exp.id)


async def test_entering_a_closed_runtime_again_raises(clock: FakeClock, tmp_path: Path) -> None:
    rt = Runtime(clock=clock, export_dir=tmp_path)
    async with rt:
        pass

    with pytest.raises(RuntimeClosedError, match="closed"):
        async with rt:
            pytest.fail("a closed runtime must not be entered")


async def test_entering_an_open_runtime_again_raises(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        with pytest.raises(RuntimeClosedError, match="open"):
            async with rt:
                pytest.fail("an open runtime must not be entered twice")
        # The failed second entry leaves the first one working.
        exp = await rt.start_experiment("still-open")
        assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.RUNNING


async def test_a_second_exit_raises(clock: FakeClock, tmp_path: Path) -> None:
    rt = Runtime(clock=clock, export_dir=tmp_path)
    async with rt:
        pass

    with pytest.raises(RuntimeClosedError, match="closed"):
        await rt.__aexit__(None, None, None)


async def test_exception_in_body_propagates_unchanged(clock: FakeClock, tmp_path: Path) -> None:
    error = KeyError("boom")
    rt = Runtime(clock=clock, export_dir=tmp_path)
    started: list[str] = []

    async def body() -> None:
        async with rt:
            started.append((await rt.start_experiment("raising")).id)
            emit(STOP, {"duration": 1_000_000})
            raise error

    with pytest.raises(KeyError) as info:
        await body()

    assert info.value is error
    assert type(info.value) is KeyError
    assert not isinstance(info.value, BaseExceptionGroup)
    # The runtime still drained and closed on the way out (private state: no
    # public call works any more).
    assert stored_event_count(rt) == 1
    with pytest.raises(RuntimeClosedError):
        await rt.get_experiment(started[0])


async def test_custom_exception_propagates_unchanged(clock: FakeClock, tmp_path: Path) -> None:
    class DomainError(Exception):
        pass

    error = DomainError("from the body")

    async def body() -> None:
        async with Runtime(clock=clock, export_dir=tmp_path) as rt:
            for name in ("a", "b", "c"):
                await rt.start_experiment(name)
            await rt.flush()
            raise error

    with pytest.raises(DomainError, match="from the body") as info:
        await body()

    assert info.value is error
    assert info.value.__cause__ is None


# ------------------------------------------------------------------ drain on exit


async def test_exit_drains_events_emitted_just_before(clock: FakeClock, tmp_path: Path) -> None:
    n = 3_000  # more than one actor batch
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        first = await rt.start_experiment("first")
        second = await rt.start_experiment("second", events=["app.*"])
        for i in range(n):
            emit(STOP, {"duration": i})
        emit("app.tick")
        # no flush: leaving the block must process them

    # Reading the cells' stores is private state: after the exit every public
    # call raises RuntimeClosedError, so this is the only way to see the drain.
    states = {state.id: state for state in rt._registry}
    assert len(states[first.id].store) == n
    assert len(states[second.id].store) == 1
    first_state = states[first.id]
    stored = all_events(first_state.store.snapshot(first_state.context))
    durations = [event.measurements["duration"] for event in stored]
    assert durations == list(range(n))


async def test_events_emitted_after_exit_are_not_collected(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path) as rt:
        await rt.start_experiment("x")
        emit(STOP)

    emit(STOP)  # nothing listens any more; must not raise either

    # Private state again: no public call works on a closed runtime.
    assert stored_event_count(rt) == 1
    assert all(len(cell.mailbox.queue) == 0 for cell in rt._registry)


# ------------------------------------------------------------------ several runtimes


async def test_several_runtimes_keep_their_own_experiments(tmp_path: Path) -> None:
    clock_a = FakeClock(BASE_US)
    clock_b = FakeClock(BASE_US + 1_000_000)
    async with (
        Runtime(clock=clock_a, export_dir=tmp_path / "a") as rt_a,
        Runtime(clock=clock_b, export_dir=tmp_path / "b") as rt_b,
    ):
        exp_a = await rt_a.start_experiment("in-a")
        exp_b = await rt_b.start_experiment("in-b")

        assert [exp.id for exp in await rt_a.list_experiments()] == [exp_a.id]
        assert [exp.id for exp in await rt_b.list_experiments()] == [exp_b.id]
        with pytest.raises(ExperimentNotFoundError, match=exp_b.id):
            await rt_a.get_experiment(exp_b.id)
        with pytest.raises(ExperimentNotFoundError, match=exp_a.id):
            await rt_b.pause_experiment(exp_a.id)
        assert await rt_b.is_paused(exp_a.id) is False
        await rt_a.cleanup(exp_b.id)  # unknown to rt_a: a no-op

        # Each runtime stamps events with its own clock.
        emit(STOP, {"duration": 5})
        await rt_a.flush()
        await rt_b.flush()
        [event_a] = await rt_a.get_all(exp_a.id)
        [event_b] = await rt_b.get_all(exp_b.id)
        assert event_a.timestamp == BASE_US
        assert event_b.timestamp == BASE_US + 1_000_000
        assert event_a.experiment_id == exp_a.id
        assert event_b.experiment_id == exp_b.id

    # Closing one runtime leaves another one working.
    async with Runtime(clock=clock_a, export_dir=tmp_path / "c") as rt_c:
        async with Runtime(clock=clock_b, export_dir=tmp_path / "d") as rt_d:
            exp_d = await rt_d.start_experiment("in-d")
        exp_c = await rt_c.start_experiment("in-c")
        emit(STOP)
        await rt_c.flush()
        assert len(await rt_c.get_all(exp_c.id)) == 1
        with pytest.raises(ExperimentNotFoundError):
            await rt_c.get_all(exp_d.id)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mailbox_size": 0}, ValueError, "mailbox_size"),
        ({"mailbox_size": -5}, ValueError, "mailbox_size"),
        ({"mailbox_size": 2.5}, TypeError, "mailbox_size"),
        ({"mailbox_size": "10"}, TypeError, "mailbox_size"),
        ({"max_restarts": -1}, ValueError, "max_restarts"),
        ({"max_restarts": 1.0}, TypeError, "max_restarts"),
        ({"restart_window_s": 0}, ValueError, "restart_window_s"),
        ({"restart_window_s": -1.5}, ValueError, "restart_window_s"),
        ({"restart_window_s": math.nan}, ValueError, "restart_window_s"),
        ({"restart_window_s": math.inf}, ValueError, "restart_window_s"),
        ({"restart_window_s": "5"}, TypeError, "restart_window_s"),
        ({"clock": 1_735_689_600_000_000}, TypeError, "clock"),
        ({"clock": "now"}, TypeError, "clock"),
        ({"pricing": [("gpt-4", (1.0, 2.0))]}, TypeError, "pricing"),
        ({"pricing": {"m": (1.0,)}}, TypeError, "pricing"),
        ({"pricing": {"m": (1.0, 2.0, 3.0)}}, TypeError, "pricing"),
        ({"pricing": {"m": ("1", 2.0)}}, TypeError, "pricing"),
        ({"pricing": {7: (1.0, 2.0)}}, TypeError, "pricing"),
        ({"pricing": {"m": (-1.0, 2.0)}}, ValueError, "pricing"),
        ({"pricing": {"m": (1.0, math.nan)}}, ValueError, "pricing"),
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Runtime(**kwargs)


async def test_constructor_accepts_edge_values(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(
        clock=clock,
        export_dir=tmp_path,
        mailbox_size=1,
        max_restarts=0,
        restart_window_s=0.001,
        pricing={"m": (0, 0)},
    ) as rt:
        exp = await rt.start_experiment("edges")
        for _ in range(2):  # no await between: the one-event mailbox overflows
            emit("req_llm.request.stop", {}, {"model": "m", "tokens": {"prompt": 9}})
        await rt.flush()
        [event] = await rt.get_all(exp.id)
        assert event.cost_usd == 0.0
        assert (await rt.streaming_metrics(exp.id)).dropped == 1


# ------------------------------------------------------------------ clock


async def test_injected_clock_stamps_everything(rt: Runtime, clock: FakeClock) -> None:
    clock.advance(1_000)
    exp = await rt.start_experiment("clocked")
    emit(STOP, {"duration": 1})
    clock.advance(2_500_000)
    emit(STOP, {"duration": 2})
    clock.advance(1)
    paused = await rt.pause_experiment(exp.id)
    await rt.resume_experiment(exp.id)
    clock.advance(10)
    stopped = await rt.stop_experiment(exp.id)

    events = await rt.get_all(exp.id)
    assert exp.started_at == BASE_DT + timedelta(microseconds=1_000)
    assert [event.timestamp for event in events] == [BASE_US + 1_000, BASE_US + 2_501_000]
    assert paused.paused_at == BASE_DT + timedelta(microseconds=2_501_001)
    assert stopped.stopped_at == BASE_DT + timedelta(microseconds=2_501_011)


async def test_query_window_last_uses_the_injected_clock(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("window")
    for _ in range(5):
        emit(STOP)
        clock.advance(1_000_000)
    # Events at +0 s .. +4 s, clock now at +5 s.

    recent = await rt.query_window(exp.id, Last(2, "seconds"))

    assert [event.timestamp for event in recent] == [BASE_US + 3_000_000, BASE_US + 4_000_000]


async def test_a_clock_that_returns_a_non_int_is_rejected_on_entry(tmp_path: Path) -> None:
    rt = Runtime(clock=lambda: 1.5, export_dir=tmp_path)  # type: ignore[arg-type, return-value]

    with pytest.raises(TypeError, match="clock"):
        async with rt:
            pytest.fail("a runtime with a float clock must not open")


# ------------------------------------------------------------------ trio


def test_round_trip_under_trio(clock: FakeClock, tmp_path: Path) -> None:
    pytest.importorskip("trio")

    async def main() -> tuple[list[int], list[Any], ExperimentStatus]:
        async with Runtime(clock=clock, export_dir=tmp_path) as rt:
            exp = await rt.start_experiment("on-trio")
            emit(STOP, {"duration": 3_000_000}, {"model": "gpt-4"})
            clock.advance(10)
            emit(STOP, {"duration": 1_000_000})
            await rt.flush()
            events = await rt.get_all(exp.id)
            paused = await rt.pause_experiment(exp.id)
            return (
                [event.timestamp for event in events],
                [event.latency_ms for event in events],
                paused.status,
            )

    timestamps, latencies, status = anyio.run(main, backend="trio")

    assert timestamps == [BASE_US, BASE_US + 10]
    assert latencies == [3.0, 1.0]
    assert status is ExperimentStatus.PAUSED
