"""The experiment actor: one task that drains its mailbox in batches.

An incarnation runs until it is cancelled (cleanup, runtime exit) or crashes.
Crashes escape to the supervisor, which decides whether to start a new
incarnation on the same cell.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

from ._cell import ExperimentCell
from ._ingest import ingest

T = TypeVar("T")

#: Messages handled between two yields to the event loop. Large enough that the
#: per-batch cost vanishes, small enough that other tasks are not starved.
BATCH_SIZE = 1024


class InjectedCrash(RuntimeError):
    """The failure ``testing.inject_crash`` makes an actor raise."""


class Call(Generic[T]):
    """A control message or query: a function run by the actor, in mailbox order."""

    __slots__ = ("_done", "_error", "_function", "_result")

    def __init__(self, function: Callable[[ExperimentCell], T]) -> None:
        self._function = function
        self._done = anyio.Event()
        self._result: T | None = None
        self._error: BaseException | None = None

    def run(self, cell: ExperimentCell) -> None:
        """Run on the cell; an error goes back to the caller, never into the actor."""
        try:
            self._result = self._function(cell)
        except Exception as error:
            self._error = error
        self._done.set()

    def reject(self, error: BaseException) -> None:
        """Answer without running (the experiment was cleaned up)."""
        self._error = error
        self._done.set()

    async def outcome(self) -> T:
        """Wait for the actor to run this call; return its result or raise its error."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def _note_depth(cell: ExperimentCell) -> None:
    mailbox = cell.mailbox
    depth = mailbox.depth()
    if depth > mailbox.high_water:
        mailbox.high_water = depth


def _crash_if_requested(cell: ExperimentCell) -> None:
    if cell.crash_requested:
        cell.crash_requested = False
        raise InjectedCrash(f"crash injected into experiment {cell.id!r}")


async def run_actor(cell: ExperimentCell) -> None:
    """Drain ``cell``'s mailbox forever; raise whatever crashes it.

    Each batch takes up to :data:`BATCH_SIZE` items: runs of events go to
    :func:`ingest`, each control message or query runs where it stands.
    """
    mailbox = cell.mailbox
    queue = mailbox.queue
    while True:
        _crash_if_requested(cell)
        if not queue:
            mailbox.signal_room()
            await mailbox.wait()
            continue
        _note_depth(cell)
        started = perf_counter()
        handled = 0
        while handled < BATCH_SIZE and queue:
            taken, message = ingest(cell, queue, BATCH_SIZE - handled)
            handled += taken
            if message is not None:
                message.run(cell)
        cell.record_batch(handled, perf_counter() - started)
        mailbox.signal_room()
        await anyio.lowlevel.checkpoint()
