"""Backpressure: bounded mailboxes drop and count events only; control is never starved."""

from __future__ import annotations

import threading

import anyio
import pytest

from telemetry_actors import Runtime, RuntimeClosedError, emit
from tests.conftest import FakeClock

STOP = "req_llm.request.stop"


async def test_emit_wait_waits_for_room_and_loses_nothing(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=4) as rt:
        exp = await rt.start_experiment("waiting")
        for i in range(500):
            await rt.emit_wait(STOP, {"duration": i}, {"i": i})
        await rt.flush()
        stored = await rt.get_all(exp.id)
        metrics = await rt.streaming_metrics(exp.id)
    assert [event.metadata["i"] for event in stored] == list(range(500))
    assert metrics.dropped == 0


async def test_emit_drops_where_emit_wait_would_wait(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=4) as rt:
        exp = await rt.start_experiment("dropping")
        for i in range(10):  # no await: the actor cannot drain in between
            emit(STOP, {"duration": i})
        await rt.flush()
        assert len(await rt.get_all(exp.id)) == 4
        assert (await rt.streaming_metrics(exp.id)).dropped == 6


async def test_cancelled_emit_wait_is_all_or_nothing(clock: FakeClock) -> None:
    # The cancel may land before or after the actor frees room: the event is
    # then either queued whole or not at all, and never counted as dropped.
    async with Runtime(clock=clock, mailbox_size=3) as rt:
        exp = await rt.start_experiment("cancelled")
        for _ in range(3):
            emit(STOP, {"duration": 1})  # the mailbox is now full
        with anyio.move_on_after(0):
            await rt.emit_wait(STOP, {"duration": 2})
        await rt.flush()
        emit(STOP, {"duration": 3})
        await rt.flush()
        durations = [event.measurements["duration"] for event in await rt.get_all(exp.id)]
        assert durations in ([1, 1, 1, 3], [1, 1, 1, 2, 3])
        assert (await rt.streaming_metrics(exp.id)).dropped == 0


async def test_emit_wait_validates_like_emit(rt: Runtime) -> None:
    with pytest.raises(TypeError, match="event name"):
        await rt.emit_wait(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        await rt.emit_wait("")
    with pytest.raises(TypeError, match="measurements"):
        await rt.emit_wait(STOP, [1, 2])  # type: ignore[arg-type]


async def test_emit_wait_on_closed_runtime_raises(clock: FakeClock) -> None:
    async with Runtime(clock=clock) as rt:
        pass
    with pytest.raises(RuntimeClosedError):
        await rt.emit_wait(STOP)


async def test_emit_wait_to_a_failed_experiment_does_not_hang(clock: FakeClock) -> None:
    from telemetry_actors.testing import inject_crash

    async with Runtime(clock=clock, mailbox_size=2, max_restarts=0) as rt:
        exp = await rt.start_experiment("failing")
        await inject_crash(rt, exp.id)
        # FAILED: detached, so emit_wait reaches nothing and returns at once.
        await rt.emit_wait(STOP, {"duration": 1})
        assert (await rt.get_experiment(exp.id)).status == "failed"
        assert await rt.get_all(exp.id) == []


async def test_statistics_report_mailbox_and_drops(clock: FakeClock) -> None:
    async with Runtime(clock=clock, mailbox_size=8) as rt:
        exp = await rt.start_experiment("observed")
        for _ in range(20):
            emit(STOP, {"duration": 1})
        before = await rt.statistics(exp.id)
        assert before.mailbox_depth == 8
        assert before.dropped == 12
        assert before.mailbox_high_water == 8
        assert before.mailbox_capacity == 8
        await rt.flush()
        after = await rt.statistics(exp.id)
    assert after.mailbox_depth == 0
    assert after.stored_events == 8
    assert after.messages_handled >= 9  # 8 events and the flush
    assert after.processing_seconds > 0.0
    assert after.restarts == 0
    assert after.last_crash is None


async def test_pause_during_a_flood_takes_effect_after_bounded_work(clock: FakeClock) -> None:
    """A pause queued behind a full mailbox waits for at most that mailbox, never the flood.

    A thread floods up to 1 M events into a 1 000-event mailbox. Between the
    pause call and its effect the actor can store only what was already queued
    (the capacity, plus one in-flight event per emitting thread): the pause's
    latency is bounded by the mailbox, not by the flood.
    """
    capacity = 1_000
    async with Runtime(clock=clock, mailbox_size=capacity) as rt:
        exp = await rt.start_experiment("flooded")
        flooding = threading.Event()
        stop_flood = threading.Event()
        emitted = 0

        def flood() -> None:
            nonlocal emitted
            for i in range(1_000_000):
                if stop_flood.is_set():
                    break
                emit(STOP, {"duration": i})
                emitted += 1
                if i == 20_000:
                    flooding.set()

        thread = threading.Thread(target=flood)
        thread.start()
        try:
            await anyio.to_thread.run_sync(flooding.wait)
            before = (await rt.statistics(exp.id)).stored_events
            await rt.pause_experiment(exp.id)
            at_pause = (await rt.statistics(exp.id)).stored_events
        finally:
            stop_flood.set()
            await anyio.to_thread.run_sync(thread.join)
        await rt.flush()
        final = await rt.statistics(exp.id)
        metrics = await rt.streaming_metrics(exp.id)

    assert at_pause - before <= capacity + 1
    assert final.stored_events == at_pause  # nothing collected after the pause
    assert final.status == "paused"
    assert metrics.dropped > 0
    assert final.stored_events + metrics.dropped <= emitted


async def test_calls_on_a_failed_experiment_leave_its_high_water_mark_alone(
    clock: FakeClock,
) -> None:
    from telemetry_actors.testing import inject_crash

    async with Runtime(clock=clock, mailbox_size=1_000, max_restarts=0) as rt:
        exp = await rt.start_experiment("failed-quietly")
        emit(STOP, {"duration": 1})
        await rt.flush()
        await inject_crash(rt, exp.id)
        for _ in range(3):  # each call on a FAILED experiment runs directly on its cell
            await rt.get_all(exp.id)
        statistics = await rt.statistics(exp.id)
    assert statistics.status == "failed"
    assert statistics.dropped == 0
    # Deepest seen: the event and the flush queued behind it; never full, so
    # never the capacity.
    assert statistics.mailbox_high_water == 2
