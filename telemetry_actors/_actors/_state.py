"""What an experiment actor owns, handed from one incarnation to the next.

A crashed actor loses nothing: the supervisor starts a new incarnation with
this same state (record, store, statistics, mailbox, counters), as the
contract's supervision section asks. Only the actor changes it, while
handling a message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._experiment import Experiment, ExperimentStatus, datetime_to_us
from .._names import NamePattern
from .._stats._streaming import StatsBatch, StreamingState
from .._storage._materialize import Context
from .._storage._memory import MemoryStore
from .._storage._snapshot import Snapshot
from .._types import Clock
from ._mailbox import Mailbox


@dataclass
class ExperimentState:
    """Everything of one experiment that outlives an actor incarnation."""

    record: Experiment
    patterns: tuple[NamePattern, ...]
    mailbox: Mailbox
    pricing: Mapping[str, tuple[float, float]]
    emit_clock: Clock
    nanosecond_stamps: bool
    store: Any = field(default_factory=MemoryStore)  # MemoryStore or DurableStore
    stats: StreamingState = field(default_factory=StreamingState)
    pending: list[StatsBatch] = field(default_factory=list)
    pending_rows: int = 0
    sampler: Any = None
    detector: Any = None
    #: Anomalies the detector flagged, in arrival order.
    anomalies: list[Any] = field(default_factory=list)
    #: Collected events since the detector last flagged one (Adaptive sampling).
    since_flag: int = 1 << 62
    #: Callables told of every stored batch (the runtime's list, shared).
    listeners: list[Any] = field(default_factory=list)
    #: A durable experiment's way to its database (``_durable.DurableLink``), or None.
    durable: Any = None
    #: The version of the record in the database this state last took.
    record_version: int = 0
    #: Collects events while RUNNING (False: an experiment of the database this
    #: runtime only reads, until ``attach_experiment``).
    attached: bool = True
    #: (paused at µs, resumed at µs or None) for each pause.
    pauses: list[tuple[int, int | None]] = field(default_factory=list)
    #: Status before an archive began, to restore if its file cannot be written.
    archiving_from: ExperimentStatus | None = None
    # The actor's own figures and supervision bookkeeping.
    messages_handled: int = 0
    processing_seconds: float = 0.0
    #: Crash messages (inject_crash) answered once the supervisor has reacted.
    crash_waiters: list[Any] = field(default_factory=list)
    crash_times: deque[float] = field(default_factory=deque)
    last_crash: str | None = None
    alive: bool = True

    def __post_init__(self) -> None:
        self.context = Context(
            self.record.id, self.record.name, self.record.condition, self.record.tags
        )

    @property
    def id(self) -> str:
        """The experiment's id."""
        return self.record.id

    @property
    def collecting(self) -> bool:
        """Events are collected only while RUNNING, judged in mailbox order."""
        return self.record.status is ExperimentStatus.RUNNING


class ReadView:
    """What a read needs, as of its place in the mailbox: record, blocks, pauses."""

    __slots__ = ("pauses", "record", "snapshot")

    def __init__(
        self, record: Experiment, snapshot: Snapshot, pauses: tuple[tuple[int, int | None], ...]
    ) -> None:
        self.record = record
        self.snapshot = snapshot
        self.pauses = pauses

    def active_and_paused_seconds(self, now: datetime) -> tuple[float, float]:
        """Seconds RUNNING and PAUSED from the start to the stop (or ``now``)."""
        record = self.record
        start = datetime_to_us(record.started_at)
        end = datetime_to_us(record.stopped_at) if record.stopped_at is not None else None
        if end is None:
            end = datetime_to_us(now)
        paused = 0
        for begin, finish in self.pauses:
            stop = finish if finish is not None else end
            paused += max(0, min(stop, end) - max(begin, start))
        total = max(0, end - start)
        paused = min(paused, total)
        return (total - paused) / 1_000_000, paused / 1_000_000


class StoredBatch:
    """What listeners (bridges to OpenTelemetry, say) learn of one stored batch.

    ``block`` is immutable; ``names``, ``models`` and ``providers`` decode its
    code columns.
    """

    __slots__ = ("block", "models", "names", "providers", "record")

    def __init__(
        self,
        record: Experiment,
        block: Any,
        names: tuple[Any, ...],
        models: tuple[Any, ...],
        providers: tuple[Any, ...],
    ) -> None:
        self.record = record
        self.block = block
        self.names = names
        self.models = models
        self.providers = providers
