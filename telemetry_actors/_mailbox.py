"""An experiment's bounded mailbox: a deque that any thread may put events into.

Why a deque and not an ``asyncio.Queue``: ``deque.append`` is atomic under the
GIL and costs tens of nanoseconds from any thread, while a queue would need
``call_soon_threadsafe`` per event from foreign threads. The actor sleeps only
when the deque is empty, and a sleeping actor is woken once per batch, not
once per event.

An event takes four consecutive slots (name, measurements, metadata,
timestamp), appended by one ``deque.extend`` of a tuple, which is atomic
under the GIL: no reader ever sees part of an event. Storing the fields
rather than a tuple per event means a full mailbox holds no GC-tracked
objects of ours, so a flood does not trigger full garbage collections.
A control message or query takes one slot; an event's first slot is its
name, a tuple, which no message is.

Only events are bounded: control messages and queries are always accepted,
so they are never dropped.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from ._types import RawEvent

#: Slots one event takes in the mailbox: name, measurements, metadata, timestamp.
EVENT_SLOTS = 4


def _thread_safe_scheduler() -> Callable[[Callable[[], None]], Any]:
    """A function that runs a callback soon on the current event loop, from any thread."""
    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return native.call_soon_threadsafe
    run_sync_soon: Callable[[Callable[[], None]], Any] = getattr(native, "run_sync_soon")  # noqa: B009
    return run_sync_soon  # trio's TrioToken


class Mailbox:
    """A FIFO of raw events and messages for one experiment actor.

    Must be created inside the event loop that runs the actor.
    """

    __slots__ = (
        "_drop_lock",
        "_loop_thread",
        "_room",
        "_schedule",
        "_wakeup",
        "capacity",
        "dropped",
        "high_water",
        "queue",
        "sleeping",
        "slot_capacity",
    )

    def __init__(self, capacity: int) -> None:
        self.queue: deque[Any] = deque()
        self.capacity = capacity
        self.slot_capacity = capacity * EVENT_SLOTS
        self.dropped = 0
        self.high_water = 0
        self.sleeping = False
        self._drop_lock = threading.Lock()
        self._wakeup = anyio.Event()
        self._room: anyio.Event | None = None
        self._loop_thread = threading.get_ident()
        self._schedule = _thread_safe_scheduler()

    def put_event(self, raw: RawEvent) -> None:
        """Queue an event from any thread; drop and count it when the mailbox is full.

        Never blocks, never raises. Concurrent threads may overshoot the
        capacity by at most one event each.
        """
        if len(self.queue) >= self.slot_capacity:
            self.count_drops(1)
            return
        self._enqueue(raw)

    async def put_event_wait(self, raw: RawEvent) -> None:
        """Queue an event, waiting for room instead of dropping it.

        Only the mailbox's own event loop can wait; from elsewhere this behaves
        as :meth:`put_event`.
        """
        if threading.get_ident() != self._loop_thread:
            self.put_event(raw)
            return
        while len(self.queue) >= self.slot_capacity:
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()
        self._enqueue(raw)

    def signal_room(self, force: bool = False) -> None:
        """Release emitters waiting for room, once there is some (or always, with ``force``)."""
        room = self._room
        if room is not None and (force or len(self.queue) < self.slot_capacity):
            self._room = None
            room.set()

    def put_message(self, message: object) -> None:
        """Queue a control message or query (loop thread only); never dropped."""
        self.queue.append(message)
        if self.sleeping:
            self.wake()

    def _enqueue(self, raw: RawEvent) -> None:
        # emit() inlines this: one atomic extend, then wake a sleeping actor.
        self.queue.extend(raw)
        if self.sleeping:
            self.wake()

    def count_drops(self, n: int) -> None:
        """Add ``n`` to the drop count, exactly, whatever thread calls it."""
        if n <= 0:
            return
        with self._drop_lock:
            self.dropped += n
            self.high_water = max(self.high_water, self.capacity)  # it was full

    def wake(self) -> None:
        """Wake the sleeping actor, from any thread."""
        self.sleeping = False
        if threading.get_ident() == self._loop_thread:
            self._wakeup.set()
            return
        try:
            self._schedule(self._set_wakeup)
        except RuntimeError:
            # The loop has closed: the runtime is gone and counts what it left behind.
            pass

    def _set_wakeup(self) -> None:
        self._wakeup.set()

    async def wait(self) -> None:
        """Sleep until something is queued (actor only)."""
        self._wakeup = anyio.Event()
        self.sleeping = True
        # Re-check after announcing sleep: an emitter that appended before it saw
        # ``sleeping`` is caught here, one that appended after will wake us.
        if self.queue:
            self.sleeping = False
            return
        await self._wakeup.wait()
        self.sleeping = False

    def depth(self) -> int:
        """Events (and messages) waiting, counting an event once. O(1)."""
        return -(-len(self.queue) // EVENT_SLOTS)

    def queued_events(self) -> int:
        """Events waiting (messages not counted). O(n)."""
        return sum(1 for item in self.queue if type(item) is tuple)  # event heads

    def discard_events(self) -> list[Any]:
        """Empty the mailbox, counting its events as dropped; return its messages."""
        events, messages = self.take_events_out()
        self.count_drops(events)
        return messages

    def take_events_out(self) -> tuple[int, list[Any]]:
        """Empty the mailbox; return (events removed, the messages among them)."""
        events = 0
        messages: list[Any] = []
        queue = self.queue
        while queue:
            item = queue.popleft()
            if type(item) is tuple:
                events += 1
                for _ in range(EVENT_SLOTS - 1):
                    queue.popleft()
            else:
                messages.append(item)
        return events, messages
