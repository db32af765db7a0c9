"""Everything of one experiment that outlives an actor incarnation.

The supervisor may replace the actor task after a crash; the experiment
record, its store, its statistics and its mailbox live here so that a restart
loses nothing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping

import anyio
import msgspec

from ._enrichment import Context
from ._event import Event
from ._experiment import Experiment, ExperimentStatus
from ._mailbox import Mailbox
from ._names import NamePattern
from ._results import ActorStatistics, StreamingMetrics
from ._store import EventStore
from ._streaming import StreamingStats


class ExperimentCell:
    """State of one experiment: record, store, statistics, mailbox, supervision data."""

    def __init__(
        self,
        experiment: Experiment,
        patterns: tuple[NamePattern, ...],
        mailbox: Mailbox,
        pricing: Mapping[str, tuple[float, float]],
        sampling_rate: float,
        sampling_seed: int | None,
        nanosecond_stamps: bool = False,
    ) -> None:
        self.experiment = experiment
        self.patterns = patterns
        self.mailbox = mailbox
        self.pricing = pricing
        self.store = EventStore(
            Context(experiment.id, experiment.name, experiment.condition, experiment.tags)
        )
        self.stats = StreamingStats()
        self.nanosecond_stamps = nanosecond_stamps  # emit stamped ns: store µs
        self.sampling_rate = sampling_rate
        self.sampler = random.Random(sampling_seed)
        # Events are collected only while RUNNING, judged in mailbox order.
        self.collecting = experiment.status is ExperimentStatus.RUNNING
        # Supervision bookkeeping.
        self.has_actor = True
        self.crash_requested = False
        self.crash_times: deque[float] = deque()
        self.last_crash: str | None = None
        self.supervisor_reacted: list[anyio.Event] = []
        self.cancel_scope = anyio.CancelScope()
        self.messages_handled = 0
        self.processing_seconds = 0.0

    @property
    def id(self) -> str:
        """The experiment's id."""
        return self.experiment.id

    def set_status(self, experiment: Experiment) -> Experiment:
        """Replace the record after a transition; keep ``collecting`` in step."""
        self.experiment = experiment
        self.collecting = experiment.status is ExperimentStatus.RUNNING
        return experiment

    def insert(self, event: Event) -> Event:
        """Store an event as given (no enrichment) and count it."""
        latency, cost, outcome = self.store.add_event(event)
        self.stats.add(event.event_name, latency, cost, outcome)
        return event

    def streaming_metrics(self) -> StreamingMetrics:
        """The live statistics, the percentile sketch brought up to date first."""
        self.stats.latency_sketch.add_many(self.store.take_new_latencies())
        return self.stats.snapshot(self.mailbox.dropped)

    def reset_streaming_metrics(self) -> None:
        """Statistics back to empty, counting only events stored from now on."""
        self.stats = StreamingStats()
        self.store.skip_new_latencies()

    def note_restart(self) -> None:
        """Count one restart in the experiment record."""
        self.experiment = msgspec.structs.replace(
            self.experiment, restarts=self.experiment.restarts + 1
        )

    def notify_supervisor_reacted(self) -> None:
        """Release everyone waiting for the supervisor's reaction to a crash."""
        waiters, self.supervisor_reacted = self.supervisor_reacted, []
        for waiter in waiters:
            waiter.set()

    def record_batch(self, handled: int, seconds: float) -> None:
        """Account one drained batch in the actor's own statistics."""
        self.messages_handled += handled
        self.processing_seconds += seconds

    def statistics(self) -> ActorStatistics:
        """The actor's own figures: mailbox, drops, restarts, processing time."""
        mailbox = self.mailbox
        return ActorStatistics(
            experiment_id=self.id,
            status=self.experiment.status,
            stored_events=len(self.store),
            mailbox_depth=mailbox.depth(),
            mailbox_high_water=mailbox.high_water,
            mailbox_capacity=mailbox.capacity,
            dropped=mailbox.dropped,
            restarts=self.experiment.restarts,
            last_crash=self.last_crash,
            messages_handled=self.messages_handled,
            processing_seconds=self.processing_seconds,
        )
