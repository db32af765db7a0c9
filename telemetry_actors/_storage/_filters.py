"""Selecting stored rows by ``query``'s filters, on columns first, events last.

Filters the columns can answer (event name, success, condition, model) are
numpy masks; only rows they cannot decide (a metadata key, a ``where``
predicate, inserted events with fields of their own) are built as events
and tested one by one. Runs in a worker thread, checking ``cancel``
between batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .._event import EVENT_FIELDS, Event
from .._handoff import hand_over_gil
from .._types import EventName
from ._block import KIND_INSERTED, KIND_MASK
from ._codes import UNCODED
from ._snapshot import Merged

#: Rows tested per batch of events (and between two looks at ``cancel``).
BATCH_ROWS = 10_000


class ReadCancelled(Exception):
    """The caller of a read was cancelled; its worker stops at the next batch."""


def check(cancel: threading.Event | None) -> None:
    """Raise :class:`ReadCancelled` once ``cancel`` is set; hand the GIL to the loop.

    Worker reads call this between batches, so the event loop also gets the
    GIL there without waiting out the switch interval (see ``_handoff``).
    """
    hand_over_gil()
    if cancel is not None and cancel.is_set():
        raise ReadCancelled


def field_matches(event: Event, key: str, expected: Any) -> bool:
    """``query``'s rule: the Event field ``key`` equals ``expected``, or ``metadata[key]`` does."""
    if key in EVENT_FIELDS and getattr(event, key) == expected:
        return True
    metadata = event.metadata
    return bool(isinstance(metadata, Mapping) and metadata.get(key) == expected)


class Filter:
    """``query``'s filters (all must hold); ``time_range`` is applied by the snapshot."""

    __slots__ = ("condition", "event_name", "fields", "success", "time_range", "where")

    def __init__(
        self,
        event_name: EventName | None = None,
        success: bool | None = None,
        time_range: tuple[int, int] | None = None,
        condition: str | None = None,
        where: Callable[[Event], bool] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.event_name = event_name
        self.success = success
        self.time_range = time_range
        self.condition = condition
        self.where = where
        self.fields = dict(fields or {})

    @property
    def empty(self) -> bool:
        """True when nothing but (maybe) a time range filters."""
        return (
            self.event_name is None
            and self.success is None
            and self.condition is None
            and self.where is None
            and not self.fields
        )

    @property
    def needs_events(self) -> bool:
        """True when some rows may have to be tested as events (see :meth:`select`)."""
        return self.condition is not None or bool(self.fields) or self.where is not None

    def select(
        self, merged: Merged, cancel: threading.Event | None = None
    ) -> npt.NDArray[np.int64] | None:
        """Positions (in ``merged`` order) of the matching rows; None for all rows."""
        if self.empty:
            return None
        snapshot = merged.snapshot
        keep = np.ones(merged.size, dtype=bool)
        # Rows whose answer the columns cannot give: tested as events.
        unsure = np.zeros(merged.size, dtype=bool)
        inserted = (merged.column("kind") & KIND_MASK) == KIND_INSERTED
        if self.event_name is not None:
            name_codes = [
                code for code, name in enumerate(snapshot.names) if name == self.event_name
            ]
            keep &= np.isin(merged.column("names"), name_codes)
        if self.success is not None:
            keep &= merged.column("success") == (1 if self.success else 0)
        if self.condition is not None:
            if snapshot.context.condition != self.condition:
                keep &= inserted
            unsure |= inserted
        for key, expected in self.fields.items():
            # None matches a row whose metadata lacks the key even when its
            # column holds a model (from gen_ai.*): only the events can tell.
            if key in ("model", "provider") and expected is not None:
                codes = merged.column(key)
                table = snapshot.models if key == "model" else snapshot.providers
                code = _code_of(table, expected)
                matches = (codes == code) if code is not None else np.zeros(merged.size, bool)
                keep &= matches | (codes == UNCODED) | inserted
                unsure |= (codes == UNCODED) | inserted
            else:
                unsure |= True
        if self.where is not None:
            unsure |= True
        positions = np.flatnonzero(keep)
        to_test = positions[unsure[positions]]
        if len(to_test) == 0:
            return positions.astype(np.int64)
        passed = self._test(merged, to_test, cancel)
        certain = positions[~unsure[positions]]
        return np.sort(np.concatenate([certain, to_test[passed]])).astype(np.int64)

    def _test(
        self, merged: Merged, positions: npt.NDArray[np.int64], cancel: threading.Event | None
    ) -> npt.NDArray[np.bool_]:
        """Test rows as events: condition, fields and ``where``."""
        results: list[bool] = []
        for begin in range(0, len(positions), BATCH_ROWS):
            check(cancel)
            batch = positions[begin : begin + BATCH_ROWS]
            for event in merged.events(batch):
                results.append(self.matches(event))
        return np.asarray(results, dtype=bool)

    def matches(self, event: Event) -> bool:
        """True when ``event`` passes the condition, field and ``where`` filters."""
        if self.condition is not None and event.condition != self.condition:
            return False
        for key, expected in self.fields.items():
            if not field_matches(event, key, expected):
                return False
        return self.where is None or bool(self.where(event))


def _code_of(values: tuple[Any, ...], expected: Any) -> int | None:
    for code, value in enumerate(values):
        try:
            if value == expected:
                return code
        except Exception:
            continue
    return None
