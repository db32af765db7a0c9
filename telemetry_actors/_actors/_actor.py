"""The experiment actor: owns its state, handles one message at a time.

An incarnation drains its mailbox in batches capped by count and time:
runs of events go to :func:`~._ingest.ingest`, each message is handled where
it stands in the queue. It runs until it is cancelled (cleanup, runtime
exit) or crashes; crashes escape to the supervisor, which starts a new
incarnation on the same state.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import anyio.lowlevel
import msgspec

from .._emit import _routes
from .._exceptions import NotRunningError
from .._experiment import Experiment, ExperimentStatus, datetime_to_us, paused, resumed, stopped
from .._results import ActorStatistics
from .._stats._streaming import StreamingState
from ._batch import fold_pending
from ._durable import (
    ApplyRecord,
    CommitDone,
    archived_change,
    change_record,
    clear_statistics,
    closing_change,
    commit,
    commit_due,
    committed,
    pause_change,
)
from ._ingest import BATCH_SECONDS, BATCH_SIZE, ingest
from ._inserts import store_prepared
from ._messages import (
    DEFERRED,
    Barrier,
    BeginArchive,
    Crash,
    EndArchive,
    GetRecord,
    Insert,
    Message,
    Pause,
    ReadAnomalies,
    ReadStreaming,
    ReadStreamingState,
    ResetStreaming,
    Resume,
    Stop,
    SyncRecord,
    TakeSnapshot,
)
from ._state import ExperimentState, ReadView

#: What :meth:`ExperimentActor.handle_durable` returns for messages it leaves alone.
NOT_HANDLED: Any = object()
#: Statistics batches waiting beyond this many events are folded in at once,
#: so memory for them stays bounded when nobody reads the statistics. A fold
#: runs on the loop at about 0.1-0.5 µs per event: 16,384 keeps it to a few
#: ms (65,536 held the loop up to 32 ms while an archive loaded).
FOLD_ROWS = 16_384


class InjectedCrash(RuntimeError):
    """The failure ``testing.inject_crash`` makes an actor raise."""


class ExperimentActor:
    """One incarnation of an experiment's actor, acting on the state it was handed."""

    __slots__ = ("state",)

    def __init__(self, state: ExperimentState) -> None:
        self.state = state

    async def run(self) -> None:
        """Drain the mailbox forever; raise whatever crashes the actor."""
        state = self.state
        mailbox = state.mailbox
        queue = mailbox.queue
        while True:
            if not queue:
                mailbox.signal_room()
                if state.durable is None:
                    await mailbox.wait()
                    continue
                due = commit_due(state)
                if due is None:
                    await mailbox.wait()
                elif due > 0:
                    with anyio.move_on_after(due):
                        await mailbox.wait()
                if commit_due(state) == 0.0:
                    commit(state)
                continue
            mailbox.note_depth()
            started = perf_counter()
            handled = 0
            if state.pending_rows >= FOLD_ROWS:
                # At the start of a turn, which ends here if the fold took its
                # time: a long fold never follows a long message in one turn.
                fold_pending(state)
            while handled < BATCH_SIZE and queue and perf_counter() - started <= BATCH_SECONDS:
                taken, message = ingest(state, queue, BATCH_SIZE - handled)
                handled += taken
                if message is not None:
                    mailbox.took_message(message)
                    self.deliver(message)
                    del message  # keep no finished call alive until the next one
            if state.durable is not None and commit_due(state) == 0.0:
                commit(state)
            state.messages_handled += handled
            state.processing_seconds += perf_counter() - started
            mailbox.signal_room()
            await anyio.lowlevel.checkpoint()

    def deliver(self, message: Message) -> None:
        """Handle one message and answer it; its errors go to its sender."""
        try:
            value = self.handle(message)
        except InjectedCrash:
            raise
        except Exception as error:
            message.reply.fail(error)
            return
        if value is not DEFERRED:
            message.reply.set(value)

    def handle(self, message: Message) -> Any:
        """The answer to ``message`` (dispatch on its type)."""
        state = self.state
        if state.durable is not None:
            answer = self.handle_durable(message)
            if answer is not NOT_HANDLED:
                return answer
        match message:
            case TakeSnapshot(start=start, end=end):
                return self.read_view(start, end)
            case Barrier():
                return None
            case GetRecord():
                return state.record
            case ReadStreaming():
                fold_pending(state)
                return state.stats.metrics(state.mailbox.dropped, self.anomaly_counts())
            case ReadStreamingState():
                fold_pending(state)
                origin = state.durable.origin if state.durable is not None else 0
                return state.stats.to_bytes(), state.mailbox.dropped, origin, self.anomaly_counts()
            case Pause(now=now):
                record = self.transition(paused(state.record, now))
                state.pauses.append((datetime_to_us(now), None))
                return record
            case Resume(now=now):
                record = self.transition(resumed(state.record))
                self.close_pause(datetime_to_us(now))
                return record
            case Stop(now=now):
                was_paused = state.record.status is ExperimentStatus.PAUSED
                record = self.transition(stopped(state.record, now))
                if was_paused:
                    self.close_pause(datetime_to_us(now))
                return record
            case BeginArchive():
                return self.begin_archive()
            case EndArchive(ok=ok):
                return self.end_archive(ok)
            case Insert(rows=rows):
                return store_prepared(state, rows)
            case ResetStreaming():
                state.pending, state.pending_rows = [], 0
                state.stats = StreamingState()
                return None
            case ReadAnomalies():
                return list(state.anomalies)
            case Crash():
                if not state.alive:
                    raise NotRunningError(
                        state.id, "failed", "its actor is gone; nothing to crash"
                    )
                state.crash_waiters.append(message)
                raise InjectedCrash(f"crash injected into experiment {state.id!r}")
        raise TypeError(f"unknown message {type(message).__name__}")

    def handle_durable(self, message: Message) -> Any:
        """The messages a durable experiment handles through its database."""
        state = self.state
        match message:
            case Barrier():
                reply = message.reply
                commit(state, then=lambda: reply.set(None))
                return DEFERRED
            case Pause(now=now):
                change_record(state, pause_change(now, paused), message.reply)
                return DEFERRED
            case Resume(now=now):
                change_record(state, closing_change(now, resumed), message.reply)
                return DEFERRED
            case Stop(now=now):
                change_record(state, closing_change(now, lambda r: stopped(r, now)), message.reply)
                return DEFERRED
            case EndArchive(ok=True):
                previous, state.archiving_from = state.archiving_from, None
                if previous is None:
                    return state.record
                change_record(state, archived_change, message.reply)
                return DEFERRED
            case ResetStreaming():
                state.pending, state.pending_rows = [], 0
                state.stats = StreamingState()
                clear_statistics(state, message.reply)
                return DEFERRED
            case CommitDone():
                committed(state, message)
                return None
            case ApplyRecord(stored=stored, answer=answer):
                self.apply(stored)
                if answer is not None:
                    answer.set(state.record)
                return None
            case SyncRecord(stored=stored):
                if stored.version > state.record_version:
                    self.apply(stored)
                return None
        return NOT_HANDLED

    def apply(self, stored: Any) -> None:
        """Take a record (and pause history) committed to the database."""
        state = self.state
        record = msgspec.structs.replace(stored.record, restarts=state.record.restarts)
        self.transition(record)
        state.pauses = list(stored.pauses)
        state.record_version = stored.version

    # ---------------------------------------------------------------- state

    def transition(self, record: Experiment) -> Experiment:
        """Take a new record; collect (be routed events) exactly while RUNNING."""
        state = self.state
        state.record = record
        if record.status is ExperimentStatus.RUNNING and state.attached:
            _routes.attach(state.mailbox, state.patterns, state.emit_clock)
        else:
            _routes.detach(state.mailbox)
        return record

    def close_pause(self, now_us: int) -> None:
        pauses = self.state.pauses
        if pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], now_us)

    def read_view(self, start: int | None = None, end: int | None = None) -> ReadView:
        """The record and an immutable snapshot of the store, as of now. O(blocks)."""
        state = self.state
        weight = state.sampler.current_weight() if state.sampler is not None else None
        return ReadView(
            state.record,
            state.store.snapshot(state.context, start, end, weight_override=weight),
            tuple(state.pauses),
        )

    def begin_archive(self) -> ReadView:
        state = self.state
        state.archiving_from = state.record.status
        _routes.detach(state.mailbox)
        view = self.read_view()
        view.record = msgspec.structs.replace(
            state.record, status=ExperimentStatus.ARCHIVED, paused_at=None
        )
        state.record = msgspec.structs.replace(state.record, status=ExperimentStatus.ARCHIVED)
        return view

    def end_archive(self, ok: bool) -> Experiment:
        state = self.state
        previous, state.archiving_from = state.archiving_from, None
        if ok or previous is None:
            state.record = msgspec.structs.replace(state.record, paused_at=None)
            return state.record
        return self.transition(msgspec.structs.replace(state.record, status=previous))

    def anomaly_counts(self) -> dict[str, int]:
        detector = self.state.detector
        return dict(detector.counts()) if detector is not None else {}

    def statistics(self) -> ActorStatistics:
        """The actor's own figures: mailbox, drops, restarts, processing time."""
        state = self.state
        mailbox = state.mailbox
        return ActorStatistics(
            experiment_id=state.id,
            status=state.record.status,
            stored_events=len(state.store),
            mailbox_depth=mailbox.depth(),
            mailbox_high_water=mailbox.high_water,
            mailbox_capacity=mailbox.capacity,
            dropped=mailbox.dropped,
            restarts=state.record.restarts,
            last_crash=state.last_crash,
            messages_handled=state.messages_handled,
            processing_seconds=state.processing_seconds,
            uncommitted_events=state.store.uncommitted_rows if state.durable is not None else 0,
            database=self.database_status(),
        )

    def database_status(self) -> str | None:
        """None for a memory experiment; "ok" or what is wrong with its database."""
        link = self.state.durable
        if link is None:
            return None
        if link.last_error is not None:
            return f"last commit failed: {link.last_error}"
        return str(link.writer.status)
