"""Reads do not run full garbage collections while they build large results.

A full collection holds the GIL for a pass over the whole heap, so one run
by a worker thread stalls the host's event loop (see ``_full_gc``).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from telemetry_actors import Last, Runtime, emit
from telemetry_actors._actors import _ingest as ingest_module
from telemetry_actors._actors._ingest import ingest
from telemetry_actors._full_gc import (
    HELD,
    YOUNG_HELD,
    full_collections_held,
    hold_young_collections,
    holders,
    release_young_collections,
)
from telemetry_actors._storage import _reads as reads_module
from tests.conftest import FakeClock
from tests.ingest_slots import ingest_state, llm_call, mailbox_slots


@pytest.fixture
def full_collections_in_workers() -> Iterator[list[int]]:
    """The full collections that started in a thread other than the test's own."""
    seen: list[int] = []
    own = threading.get_ident()

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2 and threading.get_ident() != own:
            seen.append(threading.get_ident())

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


async def test_get_all_of_many_nested_events_runs_no_full_collection(
    clock: FakeClock, full_collections_in_workers: list[int]
) -> None:
    """300,000 events with a nested dict each: a dozen full passes without the hold."""
    async with Runtime(clock=clock, mailbox_size=1 << 20) as rt:
        exp = await rt.start_experiment("many")
        for i in range(300_000):
            emit("req_llm.request.stop", {"duration": i}, {"tokens": {"prompt": i}})
        await rt.flush()
        gc.collect()
        events = await rt.get_all(exp.id)
    assert len(events) == 300_000
    assert gc.is_tracked(events[0].metadata)  # the objects that make full passes long
    assert full_collections_in_workers == []
    assert gc.get_threshold()[2] != HELD


def test_the_threshold_comes_back_after_the_last_holder() -> None:
    before = gc.get_threshold()
    with full_collections_held():
        with full_collections_held():
            assert gc.get_threshold() == (before[0], before[1], HELD)
        assert gc.get_threshold()[2] == HELD
    assert gc.get_threshold() == before
    assert holders() == 0


def test_a_threshold_set_meanwhile_is_kept() -> None:
    before = gc.get_threshold()
    try:
        with full_collections_held():
            gc.set_threshold(before[0], before[1], 25)
        assert gc.get_threshold() == (before[0], before[1], 25)
    finally:
        gc.set_threshold(*before)


def test_an_exception_releases_the_hold() -> None:
    before = gc.get_threshold()
    with pytest.raises(ZeroDivisionError), full_collections_held():
        1 / 0  # noqa: B018
    assert gc.get_threshold() == before
    assert holders() == 0


async def test_a_loaded_archive_leaves_no_objects_for_the_collector(
    clock: FakeClock, tmp_path: Path
) -> None:
    """Loaded events are kept packed: every later full collection stays as cheap as before."""
    async with Runtime(clock=clock, export_dir=tmp_path, mailbox_size=1 << 20) as rt:
        exp = await rt.start_experiment("archived")
        for i in range(50_000):
            emit("req_llm.request.stop", {"duration": i}, {"tokens": {"prompt": i}, "tags": [i]})
        await rt.flush()
        path = await rt.archive(exp.id)
        await rt.cleanup(exp.id)
        gc.collect()
        before = len(gc.get_objects())
        await rt.load_archive(path)
        gc.collect()
        tracked = len(gc.get_objects()) - before
        events = await rt.get_all(exp.id)
        events[0].metadata["tokens"]["prompt"] = -1  # readers get fresh copies
        again = await rt.get_all(exp.id)
    assert tracked < 1_000
    assert [e.metadata for e in again[:2]] == [
        {"tokens": {"prompt": 0}, "tags": [0]},
        {"tokens": {"prompt": 1}, "tags": [1]},
    ]


def test_young_collections_come_back_after_the_last_holder() -> None:
    before = gc.get_threshold()
    hold_young_collections()
    hold_young_collections()
    assert gc.get_threshold() == (YOUNG_HELD, before[1], before[2])
    release_young_collections()
    assert gc.get_threshold()[0] == YOUNG_HELD
    release_young_collections()
    assert gc.get_threshold() == before


def test_a_young_threshold_set_while_held_is_kept() -> None:
    before = gc.get_threshold()
    try:
        hold_young_collections()
        gc.set_threshold(1234, before[1], before[2])  # the host changes its mind meanwhile
        release_young_collections()
        assert gc.get_threshold()[0] == 1234
    finally:
        gc.set_threshold(*before)


@contextmanager
def collections_before_release(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType
) -> Iterator[list[int]]:
    """The generations of the collections that start until ``module`` releases its young hold.

    A collection may start at the first allocation after the release (the
    objects made while held count towards it); only those before count.
    Fails the block if the release never happened.
    """
    started: list[int] = []
    released = False
    release = module.release_young_collections

    def release_and_note() -> None:
        nonlocal released
        released = True
        release()

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and not released:
            started.append(info["generation"])

    monkeypatch.setattr(module, "release_young_collections", release_and_note)
    gc.callbacks.append(callback)
    try:
        yield started
    finally:
        gc.callbacks.remove(callback)
    assert released


def test_a_bulk_run_leaves_no_young_collection_to_promote_its_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """512 events decoded make about 2,000 containers: without the hold, young
    collections would find them alive mid-run and promote them towards a full one.

    Only collections that start before the release count: the objects made
    while held may start one at the first allocation after it, when the run's
    garbage is already gone.
    """
    state = ingest_state()
    events = [llm_call(i) for i in range(512)]
    slots = mailbox_slots(events)
    for _, _, metadata, _ in events:
        metadata["sample_id"] = "changed"  # after emit: every row is decoded
    state.mailbox.queue.extend(slots)
    with collections_before_release(monkeypatch, ingest_module) as started:
        taken, _ = ingest(state, state.mailbox.queue, 512)
    assert taken == 512
    assert len(state.store) == 512
    assert started == []


async def test_a_small_window_read_on_the_loop_starts_no_young_collection(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of 1,500 events read on the loop builds about 6,000 containers:
    young collections would scan and promote them while they are built (about
    a sixth of the read). Only collections that start before the release count.
    """
    async with Runtime(clock=clock) as rt:
        exp = await rt.start_experiment("window")
        for i in range(1_500):
            emit("req_llm.request.stop", {"duration": i}, {"tokens": {"prompt": i}})
            clock.advance(100)
        await rt.flush()
        gc.collect()
        with collections_before_release(monkeypatch, reads_module) as started:
            events = await rt.query_window(exp.id, Last(1, "seconds"))
    assert len(events) == 1_500
    assert started == []
