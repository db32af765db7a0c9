"""Reads: iter_events, cancelling a read, and reads that share nothing with the store."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from time import perf_counter
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import telemetry_actors._io._archive as archive_module
import telemetry_actors._io._export as export_module
import telemetry_actors._runtime_files as files_module
import telemetry_actors._runtime_reads as reads_module
from telemetry_actors import Event, ExperimentStatus, LastN, Runtime, emit
from telemetry_actors._storage._filters import ReadCancelled
from tests.conftest import BASE_US, FakeClock

# ------------------------------------------------------------- iter_events


async def collect(rt: Runtime, experiment_id: str, batch_size: int) -> list[list[Event]]:
    return [batch async for batch in rt.iter_events(experiment_id, batch_size=batch_size)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=80),
    st.integers(1, 30),
)
def test_iter_events_yields_get_all_in_batches(
    steps: list[tuple[int, bool]], batch_size: int
) -> None:
    """Batches of ``batch_size`` (the last smaller) whose concatenation is ``get_all``;
    emitted and inserted events, out of time order, with ties."""

    async def main() -> tuple[list[list[Event]], list[Event]]:
        clock = FakeClock()
        async with Runtime(clock=clock) as rt:
            experiment = await rt.start_experiment("iter", events=["app.*"])
            for index, (offset, inserted) in enumerate(steps):
                if inserted:
                    await rt.insert(
                        experiment.id, {"timestamp": BASE_US + offset, "metadata": {"i": index}}
                    )
                else:
                    clock.now = BASE_US + offset
                    emit("app.call", {"duration": index}, {"i": index})
            await rt.flush()
            return await collect(rt, experiment.id, batch_size), await rt.get_all(experiment.id)

    batches, everything = anyio.run(main)
    assert [event for batch in batches for event in batch] == everything
    sizes = [len(batch) for batch in batches]
    assert all(size == batch_size for size in sizes[:-1])
    assert sizes == [] or 1 <= sizes[-1] <= batch_size
    assert len(batches) == -(-len(everything) // batch_size)


async def test_iter_events_reads_as_of_its_start(rt: Runtime, clock: FakeClock) -> None:
    experiment = await rt.start_experiment("as of", events=["app.*"])
    for index in range(25):
        clock.advance(1)
        emit("app.call", {"duration": index}, {"i": index})
    await rt.flush()
    before = await rt.get_all(experiment.id)
    seen: list[Event] = []
    iterator = rt.iter_events(experiment.id, batch_size=10)
    async for batch in iterator:
        seen.extend(batch)
        if len(seen) == 10:  # events arriving meanwhile, earlier and later in time
            for index in range(25, 30):
                clock.now = BASE_US + (index % 2) * 1_000_000
                emit("app.call", {"duration": index}, {"i": index})
            await rt.flush()
    assert seen == before
    assert len(await rt.get_all(experiment.id)) == 30


async def test_iter_events_checks_its_batch_size(rt: Runtime) -> None:
    experiment = await rt.start_experiment("size")
    with pytest.raises(ValueError, match="batch_size"):
        await collect(rt, experiment.id, 0)
    assert await collect(rt, experiment.id, 5) == []


# ------------------------------------------------------------- cancelling

EVENTS = 30_000


@pytest.fixture
async def large(tmp_path: Path) -> Any:
    """A runtime with one experiment of 30,000 emitted events (three export batches)."""
    async with Runtime(mailbox_size=EVENTS + 10, export_dir=tmp_path / "exports") as rt:
        experiment = await rt.start_experiment("large", events=["app.*"])
        for index in range(EVENTS):
            emit("app.call", {"duration": index}, {"i": index, "model": "m"})
        await rt.flush()
        yield rt, experiment.id


async def cancel_when_started(call: Callable[[], Awaitable[Any]], started: anyio.Event) -> float:
    """Run ``call`` in a cancel scope that another task cancels once ``started`` is set.

    Returns the seconds from the cancel to the call's end; fails if it was not cancelled.
    """
    cancelled_at: list[float] = []
    scope = anyio.CancelScope()

    async def cancel() -> None:
        await started.wait()
        cancelled_at.append(perf_counter())
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(cancel)
        with scope:
            await call()
            pytest.fail("the read ended before it was cancelled")
        ended = perf_counter()
    assert scope.cancelled_caught
    return ended - cancelled_at[0]


class Worker:
    """Wraps a worker-thread function: says when it starts and how it ended."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.finished = threading.Event()
        self.outcome: list[str] = []

    def signal(self) -> None:
        anyio.from_thread.run_sync(self.started.set)

    def ended(self, outcome: str) -> None:
        self.outcome.append(outcome)
        self.finished.set()

    async def wait(self) -> list[str]:
        assert await anyio.to_thread.run_sync(self.finished.wait, 10.0)
        return self.outcome


async def test_cancelling_get_all_stops_its_worker(
    large: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, experiment_id = large
    worker = Worker()
    original = reads_module.all_events

    def watched(snapshot: Any, *, cancel: threading.Event) -> list[Event]:
        worker.signal()
        try:
            events = original(snapshot, cancel=cancel)
        except ReadCancelled:
            worker.ended("cancelled")
            raise
        worker.ended(f"returned {len(events)}")
        return events

    monkeypatch.setattr(reads_module, "all_events", watched)
    assert await cancel_when_started(lambda: rt.get_all(experiment_id), worker.started) < 0.1
    assert await worker.wait() == ["cancelled"]
    monkeypatch.undo()
    assert len(await rt.get_all(experiment_id)) == EVENTS  # the runtime reads on


async def test_cancelling_calculate_metrics_stops_its_predicate(large: Any) -> None:
    rt, experiment_id = large
    worker = Worker()
    calls = 0

    def where(event: Event) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            worker.signal()
        return True

    took = await cancel_when_started(
        lambda: rt.calculate_metrics(experiment_id, where=where), worker.started
    )
    assert took < 0.1
    # The worker stops at its next batch of 10,000 rows: wait for it with a read behind it.
    await rt.calculate_metrics(experiment_id, model="m")
    settled = calls
    assert settled < EVENTS
    assert (await rt.calculate_metrics(experiment_id)).summary.total_events == EVENTS
    assert calls == settled


@pytest.mark.parametrize(
    ("format", "moment", "explicit"),
    [
        ("csv", "first batch", True),
        ("csv", "all spooled", False),  # the second pass, header and rows
        ("jsonl", "first batch", False),
        ("parquet", "first batch", True),
    ],
)
async def test_cancelling_an_export_stops_it_and_leaves_no_file(
    large: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    format: str,
    moment: str,
    explicit: bool,
) -> None:
    """Cancelled while it writes, an export raises cancellation within a batch's time, and
    by then its worker has stopped and removed what it wrote (explicit or default path)."""
    if format == "parquet":
        pytest.importorskip("pyarrow")
    rt, experiment_id = large
    worker = Worker()
    batches = export_module.event_batches
    write_events = files_module.write_events

    def watched_batches(snapshots: Any, cancel: threading.Event) -> Iterator[Any]:
        for number, batch in enumerate(batches(snapshots, cancel)):
            yield batch
            if number == 0 and moment == "first batch":
                worker.signal()
        if moment == "all spooled":
            worker.signal()

    def watched_write(*args: Any, **keywords: Any) -> Path:
        try:
            path = write_events(*args, **keywords)
        except ReadCancelled:
            worker.ended("cancelled")
            raise
        worker.ended("written")
        return path

    monkeypatch.setattr(export_module, "event_batches", watched_batches)
    monkeypatch.setattr(files_module, "write_events", watched_write)
    folder = tmp_path / ("explicit" if explicit else "exports")
    path = folder / f"out.{format}" if explicit else None
    took = await cancel_when_started(
        lambda: rt.export(experiment_id, format, path=path), worker.started
    )
    assert took < 0.5
    assert worker.finished.is_set()  # the call ended after its worker
    assert await worker.wait() == ["cancelled"]
    assert sorted(folder.glob("*")) + sorted(folder.glob(".*")) == []  # no half file
    monkeypatch.undo()
    written = await rt.export(experiment_id, format, path=path)  # and the next one works
    assert written.stat().st_size > 0


# --------------------------------------------------------- no shared state


async def test_mutating_returned_events_changes_nothing_stored(
    rt: Runtime, clock: FakeClock
) -> None:
    class Own:
        def __init__(self) -> None:
            self.items = [1]

    experiment = await rt.start_experiment("mutable", events=["app.*"])
    emit("app.call", {"duration": 5, "parts": [1, 2]}, {"tags": {"a": [1]}, "sample_id": [9]})
    emit("app.call", {"duration": 6}, {"own": Own(), "list": [1, {"deep": [2]}]})
    await rt.insert(
        experiment.id,
        {"timestamp": clock.now, "metadata": {"nested": {"x": [1]}}, "sample_id": {"k": [1]}},
    )
    await rt.flush()
    first = await rt.get_all(experiment.id)
    snapshot = [
        (e.measurements.copy(), repr(e.metadata), repr(e.sample_id)) for e in first
    ]  # what a fresh read must show

    def vandalise(events: list[Event]) -> None:
        for event in events:
            event.measurements.clear()
            for value in event.metadata.values():
                if isinstance(value, dict):
                    value.clear()
                elif isinstance(value, list):
                    value.append("x")
            event.metadata["added"] = True
            if isinstance(event.sample_id, list | dict):
                event.sample_id.clear()

    vandalise(first)
    vandalise(await rt.query(experiment.id, event_name="app.call"))
    vandalise(await rt.query_window(experiment.id, LastN(3)))
    async for batch in rt.iter_events(experiment.id, batch_size=2):
        vandalise(batch)
    again = await rt.get_all(experiment.id)
    assert [
        (e.measurements.copy(), repr(e.metadata), repr(e.sample_id)) for e in again
    ] == snapshot
    assert again[0].measurements == {"duration": 5, "parts": [1, 2]}
    assert again[2].metadata == {"nested": {"x": [1]}}


async def test_cancelling_an_archive_leaves_no_file_and_the_status_unchanged(
    large: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rt, experiment_id = large
    worker = Worker()
    batches = archive_module.event_batches

    def watched_batches(snapshots: Any, cancel: threading.Event) -> Iterator[Any]:
        try:
            for number, batch in enumerate(batches(snapshots, cancel)):
                yield batch
                if number == 0:
                    worker.signal()
        except ReadCancelled:
            worker.ended("cancelled")
            raise
        worker.ended("finished")

    monkeypatch.setattr(archive_module, "event_batches", watched_batches)
    took = await cancel_when_started(lambda: rt.archive(experiment_id), worker.started)
    assert took < 0.5
    assert worker.outcome == ["cancelled"]
    assert sorted((tmp_path / "exports").glob("*")) == []
    assert (await rt.get_experiment(experiment_id)).status is ExperimentStatus.RUNNING
    emit("app.call", {"duration": 1}, {"i": -1})  # it still collects
    await rt.flush()
    assert len(await rt.get_all(experiment_id)) == EVENTS + 1
