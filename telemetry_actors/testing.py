"""Helpers for users' own tests of code instrumented with telemetry_actors."""

from __future__ import annotations

from ._actors._messages import Crash
from ._runtime import Runtime

__all__ = ["inject_crash"]


async def inject_crash(rt: Runtime, experiment_id: str) -> None:
    """Make the experiment's actor crash when it takes its next message.

    The crash comes ahead of anything already queued, as an unexpected
    exception would. Returns once the supervisor has reacted: the actor is
    restarted, or the experiment is marked FAILED.

    Raises:
        ExperimentNotFoundError: unknown id.
        NotRunningError: the experiment has no actor any more (FAILED).
        RuntimeClosedError: the runtime is not open.
    """
    rt._check_open()
    state = rt._registry.lookup(experiment_id)
    await rt._registry.send(state, Crash(), urgent=True)
