"""The messages an experiment actor handles, and the reply each caller waits on.

Every call on an experiment is one of these, queued in its mailbox behind
the events already there, so a query sees every event emitted before it
and a control message takes effect in order. The actor answers each
exactly once; when it cannot (its experiment failed, was cleaned up, or the
runtime exited) the message is answered with an error instead, so no caller
waits forever (as pykka answers a dead actor's envelopes with
``ActorDeadError``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio


class Reply:
    """One answer, set once; the caller awaits it. Holds nothing after it is taken."""

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    @property
    def answered(self) -> bool:
        """True once set."""
        return self._done.is_set()

    def set(self, value: Any) -> None:
        """Answer with a value (ignored when already answered)."""
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def fail(self, error: BaseException) -> None:
        """Answer with an error (ignored when already answered)."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    async def wait(self) -> Any:
        """The value, or raise the error. Drops its references once taken."""
        await self._done.wait()
        error, value = self._error, self._value
        self._error = self._value = None
        if error is not None:
            raise error
        return value


class Message:
    """Base of every message: it carries the reply its sender waits on."""

    __slots__ = ("reply", "urgent")

    def __init__(self) -> None:
        self.reply = Reply()
        #: Queued ahead of everything (and not counted in the mailbox depth).
        self.urgent = False


class GetRecord(Message):
    """Answer the experiment record."""

    __slots__ = ()


class Barrier(Message):
    """Answer None once everything queued before it is handled (``flush``)."""

    __slots__ = ()


class Pause(Message):
    """RUNNING -> PAUSED at ``now``."""

    __slots__ = ("now",)

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now


class Resume(Message):
    """PAUSED -> RUNNING at ``now``."""

    __slots__ = ("now",)

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now


class Stop(Message):
    """Stop collecting at ``now``; an ended experiment is answered as it is."""

    __slots__ = ("now",)

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now


class BeginArchive(Message):
    """Stop collecting and answer (record, snapshot) for the archive writer."""

    __slots__ = ()


class EndArchive(Message):
    """The archive was written (``ok``): mark ARCHIVED; else restore the status."""

    __slots__ = ("ok",)

    def __init__(self, ok: bool) -> None:
        super().__init__()
        self.ok = ok


class Insert(Message):
    """Store prepared events as given (no enrichment); answer None."""

    __slots__ = ("rows",)

    def __init__(self, rows: Any) -> None:
        super().__init__()
        self.rows = rows


class TakeSnapshot(Message):
    """Answer a :class:`ReadView` of the stored events (in [start, end] if given)."""

    __slots__ = ("end", "start")

    def __init__(self, start: int | None = None, end: int | None = None) -> None:
        super().__init__()
        self.start = start
        self.end = end


class ReadStreaming(Message):
    """Answer the live statistics (folding in what is pending first)."""

    __slots__ = ()


class ReadStreamingState(Message):
    """Answer (state as bytes, dropped, origin, anomaly counts) for a cross-runtime merge."""

    __slots__ = ()


class ResetStreaming(Message):
    """Statistics back to empty; stored events and ``dropped`` untouched."""

    __slots__ = ()


class Crash(Message):
    """Make the actor fail as an unexpected exception would (chaos tests). Urgent."""

    __slots__ = ()


class ReadAnomalies(Message):
    """Answer the anomalies flagged so far."""

    __slots__ = ()


class SyncRecord(Message):
    """Another runtime changed the record in the database: take ``stored`` if newer."""

    __slots__ = ("stored",)

    def __init__(self, stored: Any) -> None:
        super().__init__()
        self.stored = stored


#: What a handler returns when it answers later (a database commit must come first).
DEFERRED: Any = object()
