"""Crash loops back off, a poison event is counted, and shutdown is bounded."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from telemetry_actors import Runtime, emit
from telemetry_actors._actors import _bulk_ingest, _derive_batch, _ingest
from telemetry_actors._actors._supervisor import BACKOFF_BASE_S, BACKOFF_CAP_S, restart_delay
from tests.conftest import FakeClock

STOP = "req_llm.request.stop"


def test_first_restart_in_a_window_is_immediate() -> None:
    assert restart_delay(1) == 0.0


@pytest.mark.parametrize("crashes", [2, 3, 4, 6, 9, 20])
def test_quick_restarts_back_off_exponentially_with_jitter(crashes: int) -> None:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (crashes - 2))
    delays = {restart_delay(crashes) for _ in range(50)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1  # jittered, so crash loops of many actors do not align


def test_backoff_is_capped() -> None:
    assert max(restart_delay(60) for _ in range(20)) <= BACKOFF_CAP_S


async def test_a_poison_event_crashes_once_and_is_counted_as_dropped(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that makes one event crash the actor loses that event, counted, and no other."""
    original = _ingest.derive

    def derive_or_crash(measurements: Any, metadata: Any, pricing: Any) -> Any:
        if metadata.get("poison"):
            raise RuntimeError("bug triggered by this event")
        return original(measurements, metadata, pricing)

    for module in (_ingest, _derive_batch, _bulk_ingest):  # every path that derives
        monkeypatch.setattr(module, "derive", derive_or_crash)
    async with Runtime(clock=clock) as rt:
        exp = await rt.start_experiment("poisoned")
        for i in range(10):
            emit(STOP, {"duration": i}, {"poison": i == 4})
        await rt.flush()
        stored = await rt.get_all(exp.id)
        metrics = await rt.streaming_metrics(exp.id)
        record = await rt.get_experiment(exp.id)
        statistics = await rt.statistics(exp.id)
    assert [event.measurements["duration"] for event in stored] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert metrics.dropped == 1
    assert record.restarts == 1
    assert record.status == "running"
    assert statistics.last_crash == "RuntimeError: bug triggered by this event"


async def test_a_bug_in_the_bulk_path_is_redone_event_by_event(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the whole-run path fails, the run is stored by the event-by-event path: no loss."""

    def broken(*args: Any) -> Any:
        raise RuntimeError("bug in the bulk path")

    monkeypatch.setattr(_bulk_ingest, "derive_batch", broken)
    async with Runtime(clock=clock) as rt:
        exp = await rt.start_experiment("redone")
        for i in range(10):
            emit(STOP, {"duration": i}, {"model": "gpt-4"})
        await rt.flush()
        stored = await rt.get_all(exp.id)
        record = await rt.get_experiment(exp.id)
        metrics = await rt.streaming_metrics(exp.id)
    assert [event.measurements["duration"] for event in stored] == list(range(10))
    assert (metrics.dropped, record.restarts) == (0, 0)


async def test_exit_stops_after_close_timeout_and_logs_what_it_left(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """With more queued than it can process in close_timeout, exit stops anyway and says so."""
    caplog.set_level(logging.WARNING, logger="telemetry_actors")
    queued = 200_000
    async with Runtime(clock=clock, mailbox_size=queued, close_timeout=0.000_001) as rt:
        await rt.start_experiment("backlog")
        for i in range(queued):
            emit(STOP, {"duration": i})
    messages = [record.getMessage() for record in caplog.records]
    unprocessed = [m for m in messages if "events not processed" in m]
    assert len(unprocessed) == 1
    left = int(unprocessed[0].split(" with ")[1].split()[0])
    assert 0 < left <= queued


async def test_exit_with_time_to_spare_processes_everything_and_logs_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telemetry_actors")
    async with Runtime(clock=clock) as rt:
        exp = await rt.start_experiment("small")
        for i in range(2_000):
            emit(STOP, {"duration": i})
        cell = rt._registry.lookup(exp.id)  # read after exit: the runtime is closed then
    assert len(cell.store) == 2_000
    assert not [r for r in caplog.records if "events not processed" in r.getMessage()]
