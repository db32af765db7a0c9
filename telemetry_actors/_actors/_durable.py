"""What an experiment actor does differently when its experiment is durable.

Writes go through the runtime's database writer (its own thread); their
outcome comes back to the actor as a message, so the actor's state still
changes only while it handles a message:

* commits: pending blocks, this runtime's live statistics and the anomalies
  flagged since the last commit, in one transaction, every
  ``commit_interval`` seconds, when many rows wait, and at ``flush`` (whose
  answer waits for the commit);
* record changes (pause, resume, stop, archive): read, changed and written
  in one database transaction, because other runtimes may change the same
  record; the caller's answer waits for the commit, then the actor applies
  the new record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from .._experiment import Experiment, datetime_to_us
from .._storage._database import Database, StoredRecord
from .._storage._database_chunks import AnomalyBatch
from .._storage._durable import CHUNK_ROWS, COMMIT_ROWS, DurableStore
from .._storage._writer import Writer
from ._messages import Message, Reply
from ._state import ExperimentState

logger = logging.getLogger("telemetry_actors")

#: Chunks below this many rows are merged (into chunks of at most CHUNK_ROWS)
#: once sixteen of them gather.
SMALL_CHUNK_ROWS = 2_048


class DurableLink:
    """A durable experiment's way to its database, kept in its state."""

    __slots__ = (
        "anomalies_sent",
        "anomaly_batches",
        "commit_interval",
        "database",
        "last_commit",
        "last_error",
        "origin",
        "writer",
    )

    def __init__(
        self, database: Database, writer: Writer, origin: int, commit_interval: float
    ) -> None:
        self.database = database
        self.writer = writer
        self.origin = origin
        self.commit_interval = commit_interval
        self.last_commit = time.monotonic()
        self.last_error: str | None = None
        self.anomalies_sent = 0  # flagged anomalies already handed to the writer
        self.anomaly_batches = 0  # batches of them so far (their numbers in the table)


class CommitDone(Message):
    """The writer finished commit ``token`` (``error`` if it failed)."""

    __slots__ = ("error", "token")

    def __init__(self, token: int, error: BaseException | None) -> None:
        super().__init__()
        self.token = token
        self.error = error


class ApplyRecord(Message):
    """A record change was committed: take it, then answer ``answer`` with the record."""

    __slots__ = ("answer", "stored")

    def __init__(self, stored: StoredRecord, answer: Reply | None) -> None:
        super().__init__()
        self.stored = stored
        self.answer = answer


def store_of(state: ExperimentState) -> DurableStore:
    """The durable store of a durable experiment's state."""
    store = state.store
    assert isinstance(store, DurableStore)
    return store


def commit(state: ExperimentState, then: Callable[[], None] | None = None) -> None:
    """Hand the pending rows and the live statistics to the writer. O(pending rows).

    ``then`` runs on the loop once everything queued before it is committed.
    """
    from ._batch import fold_pending

    link: DurableLink = state.durable
    store = store_of(state)
    fold_pending(state)
    link.last_commit = time.monotonic()
    started = store.begin_commit()
    statistics = (state.stats.to_bytes(), state.mailbox.dropped)
    anomalies = _new_anomalies(state)
    mailbox, experiment_id, origin = state.mailbox, state.id, link.origin
    database = link.database
    if started is not None:
        token, chunks = started

        def write(connection: Any) -> None:
            database.write_chunks(connection, experiment_id, origin, chunks, statistics, anomalies)
            # Many small commits (sparse events, frequent flushes): merge them.
            database.compact_own(
                connection,
                experiment_id,
                origin,
                below=SMALL_CHUNK_ROWS,
                at_least=16,
                max_rows=CHUNK_ROWS,
            )

        link.writer.submit(write, lambda _, error: mailbox.put_message(CommitDone(token, error)))
    else:

        def write_statistics(connection: Any) -> None:
            database.save_statistics(connection, experiment_id, origin, *statistics, anomalies)

        link.writer.submit(write_statistics)
    if then is not None:
        link.writer.submit(lambda connection: None, lambda _, error: then())


def _new_anomalies(state: ExperimentState) -> AnomalyBatch | None:
    """The anomalies flagged since the last commit, numbered and encoded. O(new ones)."""
    link: DurableLink = state.durable
    found = state.anomalies
    if link.anomalies_sent >= len(found):
        return None
    link.anomaly_batches += 1
    batch = msgspec.msgpack.encode(found[link.anomalies_sent :])
    link.anomalies_sent = len(found)
    return link.anomaly_batches, batch


def commit_due(state: ExperimentState) -> float | None:
    """Seconds until the pending rows must be committed (0: now), or None if none wait."""
    store = store_of(state)
    if not store.pending_rows:
        return None
    if store.pending_rows >= COMMIT_ROWS:
        return 0.0
    link: DurableLink = state.durable
    return max(0.0, link.last_commit + link.commit_interval - time.monotonic())


def committed(state: ExperimentState, message: CommitDone) -> None:
    """The writer's answer to a commit."""
    link: DurableLink = state.durable
    if message.error is None:
        store_of(state).end_commit(message.token)
        link.last_error = None
        return
    link.last_error = f"{type(message.error).__name__}: {message.error}"
    logger.error("experiment %r: a commit failed: %s", state.id, link.last_error)


def change_record(
    state: ExperimentState,
    change: Callable[[StoredRecord], StoredRecord],
    answer: Reply,
) -> None:
    """Change the record in the database, then apply it and answer (see module doc)."""
    link: DurableLink = state.durable
    database, mailbox, experiment_id = link.database, state.mailbox, state.id

    def write(connection: Any) -> StoredRecord:
        return database.change_record(connection, experiment_id, change)

    def done(stored: StoredRecord | None, error: BaseException | None) -> None:
        if error is not None or stored is None:
            answer.fail(error or RuntimeError("the record change was lost"))
            return
        mailbox.put_message(ApplyRecord(stored, answer))

    link.writer.submit(write, done)


def pause_change(
    now: datetime, transition: Callable[[Experiment, datetime], Experiment]
) -> Callable[[StoredRecord], StoredRecord]:
    """The change of a pause: the transition plus a new open pause."""

    def change(stored: StoredRecord) -> StoredRecord:
        return StoredRecord(
            transition(stored.record, now),
            [*stored.pauses, (datetime_to_us(now), None)],
            stored.patterns,
            stored.version,
        )

    return change


def closing_change(
    now: datetime, transition: Callable[[Experiment], Experiment]
) -> Callable[[StoredRecord], StoredRecord]:
    """The change of a resume or stop: the transition, closing an open pause."""

    def change(stored: StoredRecord) -> StoredRecord:
        record = transition(stored.record)
        pauses = list(stored.pauses)
        if pauses and pauses[-1][1] is None and record.status.value != "paused":
            pauses[-1] = (pauses[-1][0], datetime_to_us(now))
        return StoredRecord(record, pauses, stored.patterns, stored.version)

    return change


def archived_change(stored: StoredRecord) -> StoredRecord:
    """The change of a written archive: status ARCHIVED, no open pause."""
    from .._experiment import ExperimentStatus

    record = msgspec.structs.replace(
        stored.record, status=ExperimentStatus.ARCHIVED, paused_at=None
    )
    return StoredRecord(record, stored.pauses, stored.patterns, stored.version)


def clear_statistics(state: ExperimentState, answer: Reply) -> None:
    """Forget every runtime's statistics of the experiment, then answer None."""
    link: DurableLink = state.durable
    database, experiment_id = link.database, state.id

    def clear(connection: Any) -> None:
        database.clear_statistics(connection, experiment_id)

    def done(_: Any, error: BaseException | None) -> None:
        if error is not None:
            answer.fail(error)
        else:
            answer.set(None)

    link.writer.submit(clear, done)
