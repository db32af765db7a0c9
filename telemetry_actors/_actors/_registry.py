"""The registry: experiment ids -> actor states, and the routing of calls to actors.

A call goes into the experiment's mailbox behind every event already queued,
so a query sees every event emitted before it and a control message takes
effect in order. When the experiment has no actor any more (FAILED), a
stand-in handles the call on the spot: its data stays queryable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._exceptions import ExperimentNotFoundError
from ._actor import ExperimentActor
from ._messages import Message
from ._state import ExperimentState


class Registry:
    """Experiments of one runtime, in start order."""

    def __init__(self) -> None:
        self._states: dict[str, ExperimentState] = {}

    def __contains__(self, experiment_id: object) -> bool:
        try:
            return experiment_id in self._states
        except TypeError:  # an unhashable id
            return False

    def __iter__(self) -> Iterator[ExperimentState]:
        return iter(list(self._states.values()))

    def add(self, state: ExperimentState) -> None:
        """Register a new experiment's state."""
        self._states[state.id] = state

    def remove(self, experiment_id: str) -> ExperimentState | None:
        """Forget an experiment; return its state (None when unknown)."""
        return self._states.pop(experiment_id, None)

    def lookup(self, experiment_id: str) -> ExperimentState:
        """The state of ``experiment_id``.

        Raises:
            ExperimentNotFoundError: no such experiment.
        """
        try:
            return self._states[experiment_id]
        except (KeyError, TypeError):
            raise ExperimentNotFoundError(experiment_id) from None

    async def call(self, experiment_id: str, message: Message) -> Any:
        """Send ``message`` to the experiment's actor and return its answer.

        Raises:
            ExperimentNotFoundError: no such experiment.
            Exception: whatever handling the message raised.
        """
        return await self.send(self.lookup(experiment_id), message)

    async def send(self, state: ExperimentState, message: Message, urgent: bool = False) -> Any:
        """As :meth:`call`, for a state already looked up (``urgent``: ahead of the queue)."""
        if not state.alive:
            # Events that raced in after the actor was gone are counted, not forgotten.
            events, _ = state.mailbox.take_all()
            state.mailbox.count_drops(events)
            ExperimentActor(state).deliver(message)
        elif urgent:
            state.mailbox.put_urgent(message)
        else:
            state.mailbox.put_message(message)
        return await message.reply.wait()
