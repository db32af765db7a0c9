"""Supervision: crashes, restarts, the restart intensity, FAILED, and cancelled callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import anyio
import anyio.lowlevel
import pytest

from telemetry_actors import (
    Experiment,
    ExperimentNotFoundError,
    ExperimentStatus,
    NotPausedError,
    NotRunningError,
    Runtime,
    RuntimeClosedError,
    emit,
)
from telemetry_actors._actors import _supervisor as supervisor_module
from telemetry_actors.testing import inject_crash
from tests.conftest import BASE_US, FakeClock

STOP = "req_llm.request.stop"

#: Seconds before a test that waits on the supervisor gives up instead of hanging.
HANG_GUARD_S = 10


class FakeMonotonic:
    """A monotonic clock (seconds) that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    """Fake the supervisor's monotonic clock.

    Replaces the ``time`` module as the supervisor sees it rather than
    ``time.monotonic`` itself: patching the real module would also move the
    event loop's own clock, which asyncio reads through ``time.monotonic``.
    """
    fake = FakeMonotonic()
    monkeypatch.setattr(supervisor_module, "time", SimpleNamespace(monotonic=fake))
    return fake


@pytest.fixture
async def strict_rt(clock: FakeClock, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime that tolerates two crashes in a 5 s window."""
    async with Runtime(
        clock=clock, export_dir=tmp_path / "exports", max_restarts=2, restart_window_s=5.0
    ) as runtime:
        yield runtime


def emit_stops(durations: range | list[int]) -> None:
    for duration in durations:
        emit(STOP, {"duration": duration * 1_000_000}, {"response": "ok"})


async def durations_ms(rt: Runtime, experiment_id: str) -> list[float | None]:
    return [event.latency_ms for event in await rt.get_all(experiment_id)]


async def crash_times(rt: Runtime, experiment_id: str, count: int) -> Experiment:
    for _ in range(count):
        await inject_crash(rt, experiment_id)
    return await rt.get_experiment(experiment_id)


# ------------------------------------------------------------------ restart keeps state


async def test_crash_restarts_and_keeps_everything(rt: Runtime, clock: FakeClock) -> None:
    exp = await rt.start_experiment("survivor")
    emit_stops(range(1, 6))
    clock.advance(1_000)
    await rt.insert(exp.id, {"timestamp": BASE_US + 500, "success": False})
    paused = await rt.pause_experiment(exp.id)
    events_before = await rt.get_all(exp.id)
    streaming_before = await rt.streaming_metrics(exp.id)
    metrics_before = await rt.calculate_metrics(exp.id)

    await inject_crash(rt, exp.id)

    after = await rt.get_experiment(exp.id)
    assert after.restarts == 1
    assert after.status is ExperimentStatus.PAUSED
    assert after.pause_count == 1
    assert after.paused_at == paused.paused_at
    assert after.started_at == paused.started_at
    assert await rt.get_all(exp.id) == events_before
    assert len(events_before) == 6
    assert await rt.streaming_metrics(exp.id) == streaming_before
    assert streaming_before.latency.count == 5
    assert streaming_before.reliability.total_requests == 6
    assert streaming_before.event_counts == {"req_llm.request.stop": 5, "custom.event": 1}
    assert await rt.calculate_metrics(exp.id) == metrics_before
    assert await rt.is_paused(exp.id) is True

    # The new incarnation works: still paused (collects nothing), then resumes.
    emit_stops([100])
    await rt.flush()
    assert len(await rt.get_all(exp.id)) == 6
    resumed = await rt.resume_experiment(exp.id)
    assert resumed.restarts == 1
    assert resumed.pause_count == 1
    emit_stops([7])
    await rt.flush()
    assert (await durations_ms(rt, exp.id))[-1] == 7.0


async def test_a_stopped_experiment_stays_stopped_after_a_crash(rt: Runtime) -> None:
    exp = await rt.start_experiment("stopped")
    emit_stops([1])
    stopped = await rt.stop_experiment(exp.id)

    await inject_crash(rt, exp.id)

    after = await rt.get_experiment(exp.id)
    assert after.status is ExperimentStatus.STOPPED
    assert after.stopped_at == stopped.stopped_at
    assert after.restarts == 1
    emit_stops([2])
    await rt.flush()
    assert await durations_ms(rt, exp.id) == [1.0]


async def test_restarts_count_every_crash(rt: Runtime) -> None:
    exp = await rt.start_experiment("counted")

    after = await crash_times(rt, exp.id, 3)

    assert after.restarts == 3
    assert after.status is ExperimentStatus.RUNNING
    assert [e.restarts for e in await rt.list_experiments()] == [3]


async def test_dropped_count_survives_a_crash(clock: FakeClock, tmp_path: Path) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, mailbox_size=4) as rt:
        exp = await rt.start_experiment("small-mailbox")
        emit_stops(range(10))  # the actor cannot run meanwhile: 4 queued, 6 dropped
        await rt.flush()
        assert (await rt.streaming_metrics(exp.id)).dropped == 6

        await inject_crash(rt, exp.id)

        metrics = await rt.streaming_metrics(exp.id)
        assert metrics.dropped == 6
        assert metrics.latency.count == 4
        assert await durations_ms(rt, exp.id) == [0.0, 1.0, 2.0, 3.0]


async def test_reset_streaming_metrics_is_kept_across_a_crash(rt: Runtime) -> None:
    exp = await rt.start_experiment("reset")
    emit_stops([1, 2])
    await rt.reset_streaming_metrics(exp.id)
    emit_stops([3])

    await inject_crash(rt, exp.id)

    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.latency.count == 1
    assert metrics.latency.mean == 3.0
    assert len(await rt.get_all(exp.id)) == 3


# ------------------------------------------------------------------ mailbox survives


async def test_events_queued_at_the_crash_are_processed_after_it(rt: Runtime) -> None:
    exp = await rt.start_experiment("queued")
    emit_stops(range(40))  # queued; the crash comes ahead of them

    await inject_crash(rt, exp.id)
    await rt.flush()

    assert await durations_ms(rt, exp.id) == [float(i) for i in range(40)]
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.dropped == 0
    assert metrics.latency.count == 40
    assert (await rt.get_experiment(exp.id)).restarts == 1


async def test_a_crash_in_the_middle_of_a_backlog_loses_nothing(rt: Runtime) -> None:
    exp = await rt.start_experiment("backlog")
    n = 3_000  # several actor batches
    emit_stops(range(n))
    await anyio.lowlevel.checkpoint()  # let the actor take a first batch

    await inject_crash(rt, exp.id)
    emit_stops(range(n, n + 10))
    await rt.flush()

    assert await durations_ms(rt, exp.id) == [float(i) for i in range(n + 10)]
    assert (await rt.streaming_metrics(exp.id)).dropped == 0


async def test_events_emitted_while_it_restarts_are_processed(rt: Runtime) -> None:
    exp = await rt.start_experiment("restarting")
    emitted = 0
    crashes_done = False

    async def crash_twice() -> None:
        nonlocal crashes_done
        # The second crash inside the window waits for a backoff before restarting.
        await inject_crash(rt, exp.id)
        await inject_crash(rt, exp.id)
        crashes_done = True

    async with anyio.create_task_group() as tg:
        emit_stops(range(5))
        emitted += 5
        tg.start_soon(crash_twice)
        emit_stops(range(5, 10))
        emitted += 5
        while not crashes_done:
            emit_stops([emitted])
            emitted += 1
            await anyio.lowlevel.checkpoint()
    emit_stops([emitted])
    emitted += 1
    await rt.flush()

    assert await durations_ms(rt, exp.id) == [float(i) for i in range(emitted)]
    assert (await rt.streaming_metrics(exp.id)).dropped == 0
    assert (await rt.get_experiment(exp.id)).restarts == 2


async def test_a_call_queued_behind_a_crash_waits_and_succeeds(rt: Runtime) -> None:
    exp = await rt.start_experiment("waiting")
    emit_stops(range(3))

    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(inject_crash, rt, exp.id)
            await anyio.lowlevel.checkpoint()  # the crash is requested
            paused = await rt.pause_experiment(exp.id)

    assert paused.status is ExperimentStatus.PAUSED
    assert paused.pause_count == 1
    after = await rt.get_experiment(exp.id)
    assert after.restarts == 1
    assert after.status is ExperimentStatus.PAUSED
    assert await durations_ms(rt, exp.id) == [0.0, 1.0, 2.0]


async def test_calls_made_during_a_restart_wait_and_succeed(rt: Runtime) -> None:
    exp = await rt.start_experiment("busy")
    emit_stops([1])
    await inject_crash(rt, exp.id)  # the next crash in the window backs off
    answers: list[int] = []
    crash_done = False

    async def crash() -> None:
        nonlocal crash_done
        await inject_crash(rt, exp.id)
        crash_done = True

    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(crash)
            while not crash_done:
                answers.append(len(await rt.get_all(exp.id)))
                assert (await rt.streaming_metrics(exp.id)).latency.count == 1

    assert answers
    assert set(answers) == {1}
    assert (await rt.get_experiment(exp.id)).restarts == 2


async def test_inject_crash_during_a_restart_returns_after_its_own_crash(
    strict_rt: Runtime,
) -> None:
    rt = strict_rt  # max_restarts=2: the third crash is fatal
    exp = await rt.start_experiment("overlap")
    await inject_crash(rt, exp.id)
    # Private state: the only way to see that the supervisor has handled the
    # second crash and not yet started the next incarnation.
    cell = rt._registry.lookup(exp.id)
    second_done = anyio.Event()

    async def second_crash() -> None:
        await inject_crash(rt, exp.id)
        second_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second_crash)
        while cell.record.restarts < 2:
            await anyio.lowlevel.checkpoint()
        assert not second_done.is_set()  # the restart is under way

        await inject_crash(rt, exp.id)  # the third, fatal crash

        # inject_crash returns once the supervisor has reacted to *this* crash:
        # the experiment is FAILED by now, so there is nothing left to crash.
        with pytest.raises(NotRunningError, match=rf"{exp.id}.*failed"):
            await inject_crash(rt, exp.id)

    failed = await rt.get_experiment(exp.id)
    assert failed.status is ExperimentStatus.FAILED
    assert failed.restarts == 2


# ------------------------------------------------------------------ FAILED


async def test_too_many_crashes_mark_the_experiment_failed(rt: Runtime) -> None:
    exp = await rt.start_experiment("doomed")
    other = await rt.start_experiment("bystander")
    emit_stops([1, 2])
    await rt.insert(exp.id, {"timestamp": BASE_US - 1})
    await crash_times(rt, exp.id, 3)
    await rt.flush()
    events_before = await rt.get_all(exp.id)
    assert len(events_before) == 3

    emit_stops(range(10, 17))  # 7 events still queued at the 4th crash
    await inject_crash(rt, exp.id)

    failed = await rt.get_experiment(exp.id)
    assert failed.status is ExperimentStatus.FAILED
    assert failed.restarts == 3
    metrics = await rt.streaming_metrics(exp.id)
    assert metrics.dropped == 7
    assert metrics.latency.count == 2
    assert metrics.event_counts == {"req_llm.request.stop": 2, "custom.event": 1}
    assert await rt.get_all(exp.id) == events_before
    assert (await rt.calculate_metrics(exp.id)).summary.total_events == 3

    # It collects nothing more; the bystander and the runtime carry on.
    emit_stops([20])
    await rt.flush()
    assert await rt.get_all(exp.id) == events_before
    assert (await rt.streaming_metrics(exp.id)).dropped == 7
    assert await durations_ms(rt, other.id) == [1.0, 2.0, *range(10, 17), 20.0]
    assert (await rt.get_experiment(other.id)).status is ExperimentStatus.RUNNING
    assert (await rt.get_experiment(other.id)).restarts == 0
    newcomer = await rt.start_experiment("newcomer")
    emit_stops([30])
    await rt.flush()
    assert await durations_ms(rt, newcomer.id) == [30.0]
    assert [e.status for e in await rt.list_experiments()] == [
        ExperimentStatus.FAILED,
        ExperimentStatus.RUNNING,
        ExperimentStatus.RUNNING,
    ]


async def test_a_paused_experiment_can_fail(strict_rt: Runtime) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("paused-then-failed")
    await rt.pause_experiment(exp.id)

    failed = await crash_times(rt, exp.id, 3)

    assert failed.status is ExperimentStatus.FAILED
    assert failed.pause_count == 1
    assert failed.restarts == 2
    assert await rt.is_paused(exp.id) is False


async def test_max_restarts_zero_fails_on_the_first_crash(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(clock=clock, export_dir=tmp_path, max_restarts=0) as rt:
        exp = await rt.start_experiment("fragile")
        emit_stops([1])
        await rt.flush()
        emit_stops([2, 3])

        await inject_crash(rt, exp.id)

        failed = await rt.get_experiment(exp.id)
        assert failed.status is ExperimentStatus.FAILED
        assert failed.restarts == 0
        assert await durations_ms(rt, exp.id) == [1.0]
        assert (await rt.streaming_metrics(exp.id)).dropped == 2
    # Leaving the block with a FAILED experiment closes cleanly.
    with pytest.raises(RuntimeClosedError):
        await rt.get_experiment(exp.id)


async def test_calls_queued_at_failure_are_answered(strict_rt: Runtime) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("answered")
    emit_stops([1])
    await crash_times(rt, exp.id, 2)

    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(inject_crash, rt, exp.id)
            await anyio.lowlevel.checkpoint()  # the fatal crash is requested
            record = await rt.get_experiment(exp.id)
            events = await rt.get_all(exp.id)

    assert record.id == exp.id
    assert [event.latency_ms for event in events] == [1.0]
    assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.FAILED


async def test_inject_crash_on_a_failed_experiment_raises(strict_rt: Runtime) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("dead")
    await crash_times(rt, exp.id, 3)

    with pytest.raises(NotRunningError, match=rf"{exp.id}.*failed"):
        await inject_crash(rt, exp.id)

    assert (await rt.get_experiment(exp.id)).restarts == 2


async def test_inject_crash_on_an_unknown_id_raises(rt: Runtime) -> None:
    with pytest.raises(ExperimentNotFoundError, match="0123456789abcdef"):
        await inject_crash(rt, "0123456789abcdef")


async def test_transitions_of_a_failed_experiment(strict_rt: Runtime, clock: FakeClock) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("dead")
    failed = await crash_times(rt, exp.id, 3)
    assert failed.status is ExperimentStatus.FAILED
    clock.advance(1_000_000)

    assert await rt.stop_experiment(exp.id) == failed
    with pytest.raises(NotRunningError, match=rf"{exp.id}.*failed"):
        await rt.pause_experiment(exp.id)
    with pytest.raises(NotPausedError, match=rf"{exp.id}.*failed"):
        await rt.resume_experiment(exp.id)
    assert await rt.is_paused(exp.id) is False
    assert await rt.get_experiment(exp.id) == failed


async def test_a_failed_experiment_accepts_inserts_and_cleanup(strict_rt: Runtime) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("dead")
    await crash_times(rt, exp.id, 3)

    await rt.insert(exp.id, {"timestamp": BASE_US + 5, "success": True})

    assert [event.timestamp for event in await rt.get_all(exp.id)] == [BASE_US + 5]
    assert (await rt.streaming_metrics(exp.id)).reliability.successful == 1
    await rt.cleanup(exp.id)
    with pytest.raises(ExperimentNotFoundError):
        await rt.get_experiment(exp.id)


# ------------------------------------------------------------------ restart window


async def test_crashes_spread_beyond_the_window_do_not_accumulate(
    monotonic: FakeMonotonic, clock: FakeClock, tmp_path: Path
) -> None:
    async with Runtime(
        clock=clock, export_dir=tmp_path, max_restarts=1, restart_window_s=5.0
    ) as rt:
        exp = await rt.start_experiment("spread")
        for _ in range(6):
            await inject_crash(rt, exp.id)
            monotonic.now += 10.0

        spread = await rt.get_experiment(exp.id)
        assert spread.status is ExperimentStatus.RUNNING
        assert spread.restarts == 6

        # Two crashes close together exceed max_restarts=1.
        await inject_crash(rt, exp.id)
        monotonic.now += 1.0
        await inject_crash(rt, exp.id)
        failed = await rt.get_experiment(exp.id)
        assert failed.status is ExperimentStatus.FAILED
        assert failed.restarts == 7


async def test_the_restart_window_slides(monotonic: FakeMonotonic, strict_rt: Runtime) -> None:
    rt = strict_rt  # max_restarts=2 within 5 s
    exp = await rt.start_experiment("sliding")

    # Crashes at +0, +3, +6, +9, +12 s: never more than two within any 5 s.
    for _ in range(5):
        await inject_crash(rt, exp.id)
        monotonic.now += 3.0
    survived = await rt.get_experiment(exp.id)
    assert survived.status is ExperimentStatus.RUNNING
    assert survived.restarts == 5

    # A crash at +13 s makes three within [8, 13] (+9, +12, +13): a fixed
    # [10, 15) bucket would see only two.
    monotonic.now = 1_000.0 + 13.0
    await inject_crash(rt, exp.id)
    failed = await rt.get_experiment(exp.id)
    assert failed.status is ExperimentStatus.FAILED
    assert failed.restarts == 5


async def test_the_event_clock_does_not_drive_the_restart_window(
    monotonic: FakeMonotonic, strict_rt: Runtime, clock: FakeClock
) -> None:
    rt = strict_rt
    exp = await rt.start_experiment("event-clock")

    for _ in range(3):
        clock.advance(3_600_000_000)  # an hour of event time between crashes
        await inject_crash(rt, exp.id)

    assert (await rt.get_experiment(exp.id)).status is ExperimentStatus.FAILED


# ------------------------------------------------------------------ cancelled callers


def assert_consistent(experiment: Experiment) -> None:
    """A transition is either fully applied or not at all."""
    if experiment.status is ExperimentStatus.PAUSED:
        assert experiment.pause_count == 1
        assert experiment.paused_at is not None
    else:
        assert experiment.status is ExperimentStatus.RUNNING
        assert experiment.pause_count == 0
        assert experiment.paused_at is None


async def test_a_pause_cancelled_mid_call_leaves_a_consistent_experiment(rt: Runtime) -> None:
    exp = await rt.start_experiment("cancelled")
    emit_stops([1])

    with anyio.move_on_after(0):
        await rt.pause_experiment(exp.id)

    state = await rt.get_experiment(exp.id)
    assert_consistent(state)
    assert await rt.is_paused(exp.id) is (state.status is ExperimentStatus.PAUSED)
    if state.status is ExperimentStatus.PAUSED:
        await rt.resume_experiment(exp.id)
    paused = await rt.pause_experiment(exp.id)
    assert paused.status is ExperimentStatus.PAUSED
    assert paused.pause_count == state.pause_count + 1
    assert await durations_ms(rt, exp.id) == [1.0]


async def test_a_task_cancelled_while_its_call_is_queued(rt: Runtime) -> None:
    exp = await rt.start_experiment("queued-call")
    emit_stops(range(2_000))  # a backlog ahead of the call

    async with anyio.create_task_group() as tg:
        tg.start_soon(rt.pause_experiment, exp.id)
        await anyio.lowlevel.checkpoint()  # the call is queued behind the backlog
        tg.cancel_scope.cancel()

    await rt.flush()
    state = await rt.get_experiment(exp.id)
    assert_consistent(state)
    # Every event emitted before the call was made is collected either way.
    assert len(await rt.get_all(exp.id)) == 2_000
    emit_stops([5_000])
    await rt.flush()
    expected = 2_000 if state.status is ExperimentStatus.PAUSED else 2_001
    assert len(await rt.get_all(exp.id)) == expected
    stopped = await rt.stop_experiment(exp.id)
    assert stopped.status is ExperimentStatus.STOPPED
    assert stopped.pause_count == state.pause_count


async def test_a_call_cancelled_during_a_restart_leaves_a_consistent_experiment(
    rt: Runtime,
) -> None:
    exp = await rt.start_experiment("cancelled-in-restart")
    await inject_crash(rt, exp.id)  # the next crash backs off before restarting

    async with anyio.create_task_group() as tg:
        tg.start_soon(inject_crash, rt, exp.id)
        await anyio.lowlevel.checkpoint()  # the crash is requested
        with anyio.move_on_after(0):
            await rt.pause_experiment(exp.id)

    state = await rt.get_experiment(exp.id)
    assert_consistent(state)
    assert state.restarts == 2
    if state.status is ExperimentStatus.RUNNING:
        state = await rt.pause_experiment(exp.id)
    resumed = await rt.resume_experiment(exp.id)
    assert resumed.status is ExperimentStatus.RUNNING
    assert resumed.pause_count == 1
    emit_stops([4])
    await rt.flush()
    assert await durations_ms(rt, exp.id) == [4.0]
