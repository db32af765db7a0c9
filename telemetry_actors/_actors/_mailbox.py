"""An experiment's bounded mailbox: a deque any thread may put events into.

Why a deque and not an ``asyncio.Queue``: ``deque.extend`` is atomic under
the GIL and costs tens of nanoseconds from any thread, while a queue would
need ``call_soon_threadsafe`` per event from foreign threads. The actor
sleeps only when the deque is empty, and a sleeping actor is woken once per
batch, not once per event: by the first message, by an event that fills a
quarter of the mailbox, or else by the runtime's sweeper (``_sweeper``)
within 10 ms, so that a sparse ``emit`` never pays for a wake-up.

An event takes :data:`EVENT_SLOTS` consecutive slots (name, payload, the
caller's measurements and metadata, time stamp), appended by one
``deque.extend`` of a tuple, which is atomic under the GIL: no reader ever
sees part of an event. A message takes one slot; an event's first slot is
its name, a tuple, which no message is.

Only events are bounded: messages are always accepted, so they are never
dropped. A mailbox is closed when its experiment fails, is cleaned up or its
runtime exits; from then on every waiting or later ``put_event_wait`` raises
the reason it was closed with, so no emitter waits forever.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from .._types import RawEvent

#: Slots one event takes: name, payload, measurements, metadata, time stamp.
EVENT_SLOTS = 5


class _Wakeup:
    """Wakes the actor's task: a bare future on asyncio (about a microsecond),
    an ``anyio.Event`` elsewhere. Created inside the loop that runs the actor."""

    __slots__ = ("_event", "_future", "_loop", "_schedule", "_thread")

    def __init__(self) -> None:
        native = anyio.lowlevel.current_token().native_token
        self._thread = threading.get_ident()
        self._future: asyncio.Future[None] | None = None
        self._event: anyio.Event | None = None
        if isinstance(native, asyncio.AbstractEventLoop):
            self._loop: asyncio.AbstractEventLoop | None = native
            self._schedule: Callable[[Callable[[], None]], Any] = native.call_soon_threadsafe
        else:  # trio: its TrioToken runs a callback soon from any thread
            self._loop = None
            self._schedule = getattr(native, "run_sync_soon")  # noqa: B009

    async def wait(self) -> None:
        if self._loop is not None:
            self._future = self._loop.create_future()
            await self._future
        else:
            self._event = anyio.Event()
            await self._event.wait()

    def set(self) -> None:
        """Wake the waiting actor; from any thread. A loop that is gone is left alone:
        its runtime has exited and counts what it left behind."""
        if threading.get_ident() == self._thread:
            self._set_here()
            return
        try:
            self._schedule(self._set_here)
        except RuntimeError:  # the loop has closed
            return

    def _set_here(self) -> None:
        future, event = self._future, self._event
        if future is not None and not future.done():
            future.set_result(None)
        elif event is not None:
            event.set()


class Mailbox:
    """A FIFO of raw events and messages for one experiment actor.

    Must be created inside the event loop that runs the actor.
    """

    __slots__ = (
        "_closed",
        "_drop_lock",
        "_loop_thread",
        "_room",
        "_wakeup",
        "capacity",
        "dropped",
        "high_water",
        "messages",
        "queue",
        "sleeping",
        "slot_capacity",
        "wake_slots",
    )

    def __init__(self, capacity: int) -> None:
        self.queue: deque[Any] = deque()
        self.capacity = capacity
        self.slot_capacity = capacity * EVENT_SLOTS
        #: Queued slots at which an emitter wakes a sleeping actor itself.
        self.wake_slots = max(EVENT_SLOTS, self.slot_capacity // 4)
        self.dropped = 0
        self.high_water = 0
        #: Messages queued by put_message and not yet taken (urgent ones are not counted).
        self.messages = 0
        self.sleeping = False
        self._drop_lock = threading.Lock()
        self._wakeup = _Wakeup()
        self._room: anyio.Event | None = None
        self._closed: BaseException | None = None
        self._loop_thread = threading.get_ident()

    # ------------------------------------------------------------- putting

    def put_event(self, raw: RawEvent) -> None:
        """Queue an event from any thread; drop and count it when full or closed.

        Never blocks, never raises. Concurrent threads may overshoot the
        capacity by at most one event each.
        """
        if len(self.queue) >= self.slot_capacity or self._closed is not None:
            self.count_drops(1)
            return
        self.queue.extend(raw)
        if self.sleeping and len(self.queue) >= self.wake_slots:
            self.wake()

    async def put_event_wait(self, raw: RawEvent) -> None:
        """Queue an event, waiting for room instead of dropping it.

        Only the mailbox's own event loop can wait; from elsewhere this
        behaves as :meth:`put_event`.

        Raises:
            The error the mailbox was closed with (its experiment failed, was
            cleaned up, or its runtime exited), also while waiting.
        """
        if threading.get_ident() != self._loop_thread:
            self.put_event(raw)
            return
        while True:
            if self._closed is not None:
                raise self._closed
            if len(self.queue) < self.slot_capacity:
                break
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()
        self.queue.extend(raw)
        if self.sleeping:
            self.wake()

    def put_message(self, message: object) -> None:
        """Queue a message behind everything queued (loop thread only); never dropped."""
        self.messages += 1
        self.queue.append(message)
        if self.sleeping:
            self.wake()

    def took_message(self, message: Any) -> None:
        """The actor took ``message`` from the queue (keeps :meth:`depth` exact)."""
        if not getattr(message, "urgent", False):
            self.messages -= 1

    def put_urgent(self, message: object) -> None:
        """Queue a message ahead of everything queued (loop thread only).

        Safe while emitters append: they only touch the right end, and the
        actor takes whole events between its checkpoints.
        """
        message.urgent = True  # type: ignore[attr-defined]
        self.queue.appendleft(message)
        if self.sleeping:
            self.wake()

    # -------------------------------------------------------------- room

    def signal_room(self) -> None:
        """Release every emitter waiting for room, once there is some."""
        room = self._room
        if room is not None and len(self.queue) < self.slot_capacity:
            self._room = None
            room.set()

    def close(self, reason: BaseException) -> None:
        """Refuse events from now on; every ``put_event_wait`` raises ``reason``."""
        self._closed = reason
        room, self._room = self._room, None
        if room is not None:
            room.set()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed is not None

    # -------------------------------------------------------------- drops

    def count_drops(self, n: int) -> None:
        """Add ``n`` to the drop count, exactly, whatever thread calls it."""
        if n <= 0:
            return
        with self._drop_lock:
            self.dropped += n
            self.high_water = max(self.high_water, self.capacity)  # it was full

    # ---------------------------------------------------------- the actor

    def wake(self) -> None:
        """Wake the sleeping actor, from any thread."""
        self.sleeping = False
        self._wakeup.set()

    async def wait(self) -> None:
        """Sleep until something is queued (actor only)."""
        self.sleeping = True
        # Re-check after announcing sleep: an emitter that appended before it saw
        # ``sleeping`` is caught here, one that appended after will wake us.
        if self.queue:
            self.sleeping = False
            return
        try:
            await self._wakeup.wait()
        finally:
            self.sleeping = False

    def note_depth(self) -> None:
        """Raise the high-water mark to the current depth. O(1)."""
        depth = self.depth()
        if depth > self.high_water:
            self.high_water = depth

    def depth(self) -> int:
        """Events and messages waiting, an event counted once; urgent messages not. O(1)."""
        messages = max(self.messages, 0)
        return max(len(self.queue) - messages, 0) // EVENT_SLOTS + messages

    def queued_events(self) -> int:
        """Events waiting (messages not counted). O(n)."""
        return sum(1 for item in self.queue if type(item) is tuple)  # event heads

    def take_all(self) -> tuple[int, list[Any]]:
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
        self.messages = 0
        return events, messages
