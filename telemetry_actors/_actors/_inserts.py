"""Storing events as given (``insert``, ``load_archive``): no enrichment.

An inserted event keeps every field it was given; the columns take its
numbers where they are usable (a finite latency, cost, token count), so
inserted events count in analysis and streaming statistics like emitted
ones. Its builtin containers are copied, so later changes by the caller
change nothing stored.

The work is split so that large loads never hold the event loop:
:func:`prepare_rows` (copies and columns, in a worker thread for an archive)
and :func:`store_prepared` (codes and the block, in the actor: a dict lookup
per distinct name or model, numpy for the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from .._emit._capture import capture_value
from .._enrichment import number_or_none, token_counts_of
from .._event import Event
from .._stats._streaming import StatsBatch
from .._storage._block import KIND_INSERTED, TOKENS_FLOAT, build_block
from .._storage._codes import Distinct
from .._storage._inserted import Inserted, pack, stored_event
from ._batch import custom_value
from ._state import ExperimentState

_NAN = float("nan")


def captured_event(event: Event) -> Event:
    """``event`` with copies of its builtin containers, taken now."""
    return msgspec.structs.replace(
        event,
        tags=capture_value(event.tags),
        measurements=capture_value(event.measurements),
        metadata=capture_value(event.metadata),
        session_id=capture_value(event.session_id),
        user_id=capture_value(event.user_id),
        sample_id=capture_value(event.sample_id),
        cohort=capture_value(event.cohort),
        model=capture_value(event.model),
        provider=capture_value(event.provider),
    )


def _number(value: Any) -> float:
    number = number_or_none(value)
    return _NAN if number is None else number


class PreparedRows:
    """Inserted events with their columns, ready for the actor to code and store."""

    __slots__ = ("columns", "events", "extras", "kept", "models", "names", "providers")

    def __init__(
        self,
        events: list[Event],
        columns: dict[str, Any],
        names: Distinct,
        models: Distinct,
        providers: Distinct,
        kept: list[Inserted] | None = None,
        extras: dict[int, Inserted] | None = None,
    ) -> None:
        self.events = events
        #: What each stored row keeps: the events, or packed copies of them.
        self.kept: list[Inserted] = list(events) if kept is None else kept
        #: ``events`` is empty for packed rows.
        self.columns = columns
        self.names = names
        self.models = models
        self.providers = providers
        #: The block's row -> kept value map when built ahead (off the loop:
        #: about 8 ms per 65,536 rows); else the actor builds it.
        self.extras = extras

    @classmethod
    def joined(cls, parts: list[PreparedRows]) -> PreparedRows:
        """The rows of ``parts`` one after the other, as one insert, row map built. O(rows).

        The row map is filled a part at a time: one C call per part, so a
        worker thread running this never holds the GIL for long.
        """
        kept = [value for part in parts for value in part.kept]
        extras: dict[int, Inserted] = {}
        first = 0
        for part in parts:
            extras.update(zip(range(first, first + len(part.kept)), part.kept, strict=True))
            first += len(part.kept)
        return cls(
            [event for part in parts for event in part.events],
            {
                name: np.concatenate([part.columns[name] for part in parts])
                for name in parts[0].columns
            },
            Distinct.joined([part.names for part in parts]),
            Distinct.joined([part.models for part in parts]),
            Distinct.joined([part.providers for part in parts]),
            kept,
            extras,
        )


def prepare_rows(
    events: Sequence[Event], capture: bool = True, packed: bool = False
) -> PreparedRows:
    """Copies (when ``capture``) and columns of events to insert. O(n), no shared state.

    ``packed``: the events hold JSON values only (read from an archive); rows
    keep them as MessagePack bytes (see ``_storage._inserted``).
    """
    stored = [captured_event(event) for event in events] if capture else list(events)
    latency, cost, success, weight, kind = [], [], [], [], []
    prompt, completion, total = [], [], []
    for event in stored:
        latency.append(_number(event.latency_ms))
        cost.append(_number(event.cost_usd))
        success.append(-1 if not isinstance(event.success, bool) else int(event.success))
        number = number_or_none(event.sampling_weight)
        weight.append(1.0 if number is None else number)
        tokens = token_counts_of(event)
        row_kind = KIND_INSERTED
        if tokens is None:
            prompt.append(_NAN)
            completion.append(_NAN)
            total.append(_NAN)
        else:
            prompt.append(float(tokens[0]))
            completion.append(float(tokens[1]))
            total.append(float(tokens[2]))
            if any(type(count) is not int for count in tokens):
                row_kind |= TOKENS_FLOAT
        kind.append(row_kind)
    columns: dict[str, Any] = {
        "timestamps": np.fromiter((event.timestamp for event in stored), np.int64, len(stored)),
        "latency": np.asarray(latency, dtype=np.float64),
        "cost": np.asarray(cost, dtype=np.float64),
        "success": np.asarray(success, dtype=np.int8),
        "prompt": np.asarray(prompt, dtype=np.float64),
        "completion": np.asarray(completion, dtype=np.float64),
        "total": np.asarray(total, dtype=np.float64),
        "weight": np.asarray(weight, dtype=np.float64),
        "serial": np.full(len(stored), -1, dtype=np.int64),
        "prefix": np.zeros(len(stored), dtype=np.uint16),
        "kind": np.asarray(kind, dtype=np.uint8),
    }
    return PreparedRows(
        [] if packed else stored,  # packed rows need no objects: the batch's go at once
        columns,
        Distinct.of([event.event_name for event in stored]),
        Distinct.of([event.model for event in stored]),
        Distinct.of([event.provider for event in stored]),
        [pack(event) for event in stored] if packed else None,
    )


def store_prepared(state: ExperimentState, prepared: PreparedRows) -> None:
    """Code names and models, store the block and queue the statistics. O(n)."""
    if not prepared.kept:
        return
    store = state.store
    columns = dict(prepared.columns)
    columns["names"] = prepared.names.coded(store.names)
    columns["model"] = prepared.models.coded(store.models)
    columns["provider"] = prepared.providers.coded(store.providers)
    payloads = [b""] * len(prepared.kept)
    extras = dict(enumerate(prepared.kept)) if prepared.extras is None else prepared.extras
    store.add(build_block(columns, payloads, extras, store.next_seq()))
    state.pending.append(
        StatsBatch(columns["names"], columns["latency"], columns["cost"], columns["success"])
    )
    state.pending_rows += len(prepared.kept)
    if state.detector is not None:
        _score(state, prepared, columns)


def _score(state: ExperimentState, prepared: PreparedRows, columns: dict[str, Any]) -> None:
    """Score the inserted events for anomalies, in order, as ingest scores emitted ones."""
    events = prepared.events or [stored_event(kept) for kept in prepared.kept]
    values: dict[str, Any] = {"latency_ms": columns["latency"], "cost_usd": columns["cost"]}
    for metric in state.detector.spec.metrics:
        if "." in metric:
            values[metric] = [
                custom_value(metric, event.measurements, event.metadata) for event in events
            ]
    found = state.detector.observe_many(
        [event.event_id for event in events], columns["timestamps"], values
    )
    state.anomalies.extend(found)
