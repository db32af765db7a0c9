"""The experiment record, its status enum and its lifecycle transitions."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ._exceptions import AlreadyPausedError, NotPausedError, NotRunningError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_from_us(timestamp_us: int) -> datetime:
    """µs since the epoch -> tz-aware UTC datetime, exactly (no float rounding).

    Raises:
        OverflowError: a time stamp outside the years 1 to 9999.
    """
    return _EPOCH + timedelta(microseconds=timestamp_us)


def datetime_to_us(moment: datetime) -> int:
    """A tz-aware datetime -> µs since the epoch, exactly."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class ExperimentStatus(enum.StrEnum):
    """Lifecycle of an experiment.

    ``RUNNING ⇄ PAUSED -> STOPPED -> ARCHIVED``; ``FAILED`` when its actor crashed
    more often than the restart limit allows.
    """

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ARCHIVED = "archived"
    FAILED = "failed"


class Experiment(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one experiment; the runtime hands out a fresh one per change."""

    id: str
    name: str
    hypothesis: str | None = None
    condition: str = "default"
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = {}
    started_at: datetime
    stopped_at: datetime | None = None
    paused_at: datetime | None = None
    status: ExperimentStatus = ExperimentStatus.RUNNING
    sample_size: int | None = None
    metrics_config: dict[str, Any] = {}
    storage_backend: str = "memory"
    pause_count: int = 0
    restarts: int = 0


_ENDED = (ExperimentStatus.STOPPED, ExperimentStatus.ARCHIVED, ExperimentStatus.FAILED)


def paused(experiment: Experiment, now: datetime) -> Experiment:
    """RUNNING -> PAUSED.

    Raises:
        AlreadyPausedError: it is paused.
        NotRunningError: it is stopped, archived or failed.
    """
    if experiment.status is ExperimentStatus.PAUSED:
        raise AlreadyPausedError(experiment.id, "paused", "resume it before pausing again")
    if experiment.status is not ExperimentStatus.RUNNING:
        raise NotRunningError(
            experiment.id, experiment.status.value, "only a running experiment can be paused"
        )
    return msgspec.structs.replace(
        experiment,
        status=ExperimentStatus.PAUSED,
        paused_at=now,
        pause_count=experiment.pause_count + 1,
    )


def resumed(experiment: Experiment) -> Experiment:
    """PAUSED -> RUNNING; ``paused_at`` cleared, ``pause_count`` kept.

    Raises:
        NotPausedError: it is not paused.
    """
    if experiment.status is not ExperimentStatus.PAUSED:
        raise NotPausedError(
            experiment.id, experiment.status.value, "only a paused experiment can be resumed"
        )
    return msgspec.structs.replace(experiment, status=ExperimentStatus.RUNNING, paused_at=None)


def stopped(experiment: Experiment, now: datetime) -> Experiment:
    """RUNNING/PAUSED -> STOPPED; an experiment that has already ended is returned as is."""
    if experiment.status in _ENDED:
        return experiment
    return msgspec.structs.replace(
        experiment, status=ExperimentStatus.STOPPED, stopped_at=now, paused_at=None
    )
