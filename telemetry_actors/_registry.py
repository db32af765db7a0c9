"""The registry: experiment ids -> cells, and the routing of calls to their actors.

A call goes into the experiment's mailbox behind every event already queued,
so a query sees every event emitted before it and a control message takes
effect in order. When the experiment has no actor any more (FAILED), the call
runs directly on the cell, whose data stays queryable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from ._actor import Call
from ._cell import ExperimentCell
from ._exceptions import ExperimentNotFoundError

T = TypeVar("T")


class Registry:
    """Experiments of one runtime, in start order."""

    def __init__(self) -> None:
        self._cells: dict[str, ExperimentCell] = {}

    def __contains__(self, experiment_id: object) -> bool:
        return experiment_id in self._cells

    def __iter__(self) -> Iterator[ExperimentCell]:
        return iter(list(self._cells.values()))

    def add(self, cell: ExperimentCell) -> None:
        """Register a new experiment's cell."""
        self._cells[cell.id] = cell

    def remove(self, experiment_id: str) -> ExperimentCell | None:
        """Forget an experiment; return its cell (None when unknown)."""
        return self._cells.pop(experiment_id, None)

    def lookup(self, experiment_id: str) -> ExperimentCell:
        """The cell of ``experiment_id``.

        Raises:
            ExperimentNotFoundError: no such experiment.
        """
        try:
            return self._cells[experiment_id]
        except (KeyError, TypeError):
            raise ExperimentNotFoundError(experiment_id) from None

    async def call(self, experiment_id: str, function: Callable[[ExperimentCell], T]) -> T:
        """Run ``function`` on the experiment's cell in mailbox order and return its result.

        Raises:
            ExperimentNotFoundError: no such experiment.
            Exception: whatever ``function`` raised.
        """
        return await self.call_cell(self.lookup(experiment_id), function)

    async def call_cell(self, cell: ExperimentCell, function: Callable[[ExperimentCell], T]) -> T:
        """As :meth:`call`, for a cell already looked up."""
        if not cell.has_actor:
            # Events that raced in after the actor was gone are counted, not forgotten.
            cell.mailbox.discard_events()
            return function(cell)
        call = Call(function)
        cell.mailbox.put_message(call)
        return await call.outcome()
