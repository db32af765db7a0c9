"""The experiment actor: one task that drains its mailbox in batches.

An incarnation runs until it is cancelled (cleanup, runtime exit) or crashes.
Crashes escape to the supervisor, which decides whether to start a new
incarnation on the same cell.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any, Generic, TypeVar

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
    depth = len(mailbox.queue)
    if depth > mailbox.high_water:
        mailbox.high_water = depth


def _take(queue: deque[Any], limit: int) -> list[Any]:
    popleft = queue.popleft
    return [popleft() for _ in range(min(len(queue), limit))]


def _crash_if_requested(cell: ExperimentCell) -> None:
    if cell.crash_requested:
        cell.crash_requested = False
        raise InjectedCrash(f"crash injected into experiment {cell.id!r}")


def handle(cell: ExperimentCell, items: list[Any]) -> None:
    """Handle taken mailbox items in order: runs of events in one go, calls one by one.

    If handling crashes, the item that crashed is lost (an event is counted
    as dropped) and every later item goes back to the front of the mailbox,
    in order, for the next incarnation.
    """
    index = 0
    size = len(items)
    try:
        while index < size:
            item = items[index]
            if type(item) is tuple:
                end = index + 1
                while end < size and type(items[end]) is tuple:
                    end += 1
                cell.ingest_failed_at = 0
                ingest(cell, items[index:end])
                index = end
            else:
                item.run(cell)
                index += 1
    except Exception:
        failed = index + cell.ingest_failed_at if type(items[index]) is tuple else index
        if type(items[failed]) is tuple:
            cell.mailbox.count_drops(1)
        cell.mailbox.queue.extendleft(reversed(items[failed + 1 :]))
        raise


async def run_actor(cell: ExperimentCell) -> None:
    """Drain ``cell``'s mailbox forever; raise whatever crashes it."""
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
        items = _take(queue, BATCH_SIZE)
        handle(cell, items)
        cell.record_batch(len(items), perf_counter() - started)
        mailbox.signal_room()
        await anyio.lowlevel.checkpoint()
