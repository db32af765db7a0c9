"""Storing events as given (``insert``, ``load_archive``): no enrichment.

An inserted event keeps every field it was given; the columns take its
numbers where they are usable (a finite latency, cost, token count), so
inserted events count in analysis and streaming statistics like emitted
ones. Its builtin containers are copied, so later changes by the caller
change nothing stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from .._emit._capture import capture_value
from .._enrichment import number_or_none, token_counts_of
from .._event import Event
from .._storage._block import KIND_INSERTED, TOKENS_FLOAT, build_block
from .._stats._streaming import StatsBatch
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


def _weight(value: Any) -> float:
    number = number_or_none(value)
    return 1.0 if number is None else number


def insert_events(state: ExperimentState, events: Sequence[Event]) -> list[Event]:
    """Store copies of ``events`` as given; queue their numbers for the statistics. O(n).

    Returns the events it was given (the store keeps its own copies).
    """
    if not events:
        return []
    stored = [captured_event(event) for event in events]
    names = state.store.names
    models = state.store.models
    columns: dict[str, list[Any]] = {key: [] for key in (
        "timestamps", "names", "latency", "cost", "success", "prompt", "completion",
        "total", "model", "weight", "serial", "prefix", "kind",
    )}
    for event in stored:
        latency = number_or_none(event.latency_ms)
        cost = number_or_none(event.cost_usd)
        tokens = token_counts_of(event)
        columns["timestamps"].append(event.timestamp)
        columns["names"].append(names.code(event.event_name))
        columns["latency"].append(_NAN if latency is None else latency)
        columns["cost"].append(_NAN if cost is None else cost)
        columns["success"].append(
            -1 if not isinstance(event.success, bool) else int(event.success)
        )
        kind = KIND_INSERTED
        if tokens is None:
            columns["prompt"].append(_NAN)
            columns["completion"].append(_NAN)
            columns["total"].append(_NAN)
        else:
            columns["prompt"].append(float(tokens[0]))
            columns["completion"].append(float(tokens[1]))
            columns["total"].append(float(tokens[2]))
            if any(type(count) is not int for count in tokens):
                kind |= TOKENS_FLOAT
        columns["model"].append(models.code(event.model))
        columns["weight"].append(_weight(event.sampling_weight))
        columns["serial"].append(-1)
        columns["prefix"].append(0)
        columns["kind"].append(kind)
    payloads = [b""] * len(stored)
    extras = dict(enumerate(stored))
    state.store.add(build_block(columns, payloads, extras, state.store.next_seq()))
    state.pending.append(
        StatsBatch(
            np.asarray(columns["names"], dtype=np.int32),
            np.asarray(columns["latency"], dtype=np.float64),
            np.asarray(columns["cost"], dtype=np.float64),
            np.asarray(columns["success"], dtype=np.int8),
        )
    )
    state.pending_rows += len(stored)
    return list(events)
