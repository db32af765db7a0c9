"""Every exception the library raises, in one place.

The tree::

    TelemetryActorsError
    ├── ExperimentNotFoundError (also LookupError)
    ├── InvalidTransitionError
    │   ├── AlreadyPausedError
    │   ├── NotRunningError
    │   └── NotPausedError
    ├── NoEventsError
    └── RuntimeClosedError

Bad arguments raise the builtin ``TypeError`` or ``ValueError``.
"""

from __future__ import annotations


class TelemetryActorsError(Exception):
    """Base class of every error specific to telemetry_actors."""


class ExperimentNotFoundError(TelemetryActorsError, LookupError):
    """No experiment with this id exists in the runtime."""

    def __init__(self, experiment_id: str) -> None:
        super().__init__(
            f"experiment {experiment_id!r} not found; "
            "check the id returned by start_experiment or load_archive"
        )
        self.experiment_id = experiment_id


class InvalidTransitionError(TelemetryActorsError):
    """A lifecycle change that the experiment's current status does not allow."""

    def __init__(self, experiment_id: str, status: str, advice: str) -> None:
        super().__init__(f"experiment {experiment_id!r} is {status}; {advice}")
        self.experiment_id = experiment_id
        self.status = status


class AlreadyPausedError(InvalidTransitionError):
    """``pause_experiment`` on an experiment that is already paused."""


class NotRunningError(InvalidTransitionError):
    """An operation that needs a running experiment met a stopped, archived or failed one."""


class NotPausedError(InvalidTransitionError):
    """``resume_experiment`` on an experiment that is not paused."""


class NoEventsError(TelemetryActorsError):
    """An export asked for an experiment that holds no events."""

    def __init__(self, experiment_id: str) -> None:
        super().__init__(
            f"experiment {experiment_id!r} has no events to export; emit or insert events first"
        )
        self.experiment_id = experiment_id


class RuntimeClosedError(TelemetryActorsError):
    """A call on a runtime that has been closed (or was never entered)."""
