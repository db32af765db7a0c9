"""What a batch of collected events becomes: a stored block, statistics, anomalies.

The ingest loop (``_ingest``) collects a tuple per event; here one numpy
step per batch turns them into columns, stores them as an immutable block,
queues their numbers for the live statistics, scores them for anomalies
and tells the listeners. Also the per-event hooks of sampling and of
Adaptive sampling's one-by-one detection, which need the event's fields.
"""

from __future__ import annotations

import logging
from itertools import chain
from typing import Any

import numpy as np

from .._enrichment import number_or_none
from .._event import ids
from .._stats._streaming import StatsBatch
from .._storage._block import build_block
from .._storage._memory import prefix_code
from ._state import ExperimentState, StoredBatch

logger = logging.getLogger("telemetry_actors")

_NAN = float("nan")


#: Stratified fields that enrichment derives: their place in ``sampling_key``'s ``fields``.
_DERIVED = {"success": 0, "event_name": 1, "model": 2, "provider": 3}
#: Stratified fields every event takes from its experiment.
_CONTEXT = frozenset({"experiment_id", "experiment_name", "condition", "tags"})


def sampling_key(
    state: ExperimentState,
    sampler: Any,
    fields: tuple[bool | None, Any, Any, Any],
    metadata: Any,
) -> Any:
    """The event's value of ``sampler.by``: a field of the stored event, else a metadata key.

    ``fields`` is (success, event name, model, provider) as enrichment derived them.
    """
    by = sampler.by
    if by is None:
        return None
    if by in _DERIVED:
        return fields[_DERIVED[by]]
    if by in _CONTEXT:
        return getattr(state.context, by)
    try:
        return metadata.get(by) if type(metadata) is dict else None
    except Exception:
        return None


def custom_value(metric: str, measurements: Any, metadata: Any) -> float:
    """The value of a ``measurements.<key>`` / ``metadata.<key>`` metric, NaN if unusable."""
    source, _, key = metric.partition(".")
    fields = measurements if source == "measurements" else metadata
    try:
        number = number_or_none(fields.get(key)) if type(fields) is dict else None
    except Exception:
        number = None
    return _NAN if number is None else number


def observe_one(
    state: ExperimentState,
    serial: int,
    timestamp: int,
    latency: float | None,
    cost: float | None,
    custom: dict[str, list[float]],
) -> bool:
    """Score one stored event (Adaptive sampling's path); True when it was flagged."""
    values: dict[str, float | None] = {"latency_ms": latency, "cost_usd": cost}
    for metric, column in custom.items():
        values[metric] = column[-1]
    found = state.detector.observe(ids.prefix + hex(serial), timestamp, values)
    state.anomalies.extend(found)
    return bool(found)


def _detect(
    state: ExperimentState,
    columns: dict[str, Any],
    custom: dict[str, list[float]],
    keep: Any,
) -> None:
    """Score a batch's stored events in arrival order (see ``LiveDetector.observe_many``)."""
    size = len(columns["timestamps"])
    positions = np.flatnonzero(keep) if keep is not None else np.arange(size)
    if not len(positions):
        return
    prefix = ids.prefix
    metrics: dict[str, Any] = {
        "latency_ms": columns["latency"][positions],
        "cost_usd": columns["cost"][positions],
    }
    for metric, values in custom.items():
        metrics[metric] = np.asarray(values, dtype=np.float64)[positions]
    found = state.detector.observe_many(
        [prefix + hex(serial) for serial in columns["serial"][positions].tolist()],
        columns["timestamps"][positions],
        metrics,
    )
    state.anomalies.extend(found)


def columns_of(rows: Any) -> dict[str, Any]:
    """A batch's rows as numpy columns (None becomes NaN, or -1 for success)."""
    (
        timestamps,
        names,
        latency,
        cost,
        outcomes,
        tokens,
        model,
        provider,
        weight,
        serial,
        kind,
    ) = zip(*rows.rows, strict=True)
    success = np.asarray(outcomes, dtype=np.float64)  # True 1, False 0, None NaN
    # Flattened first: numpy reads a list of 3-tuples at half the speed.
    token_counts = np.fromiter(
        chain.from_iterable(tokens), dtype=np.float64, count=3 * len(tokens)
    ).reshape(-1, 3)
    return {
        "timestamps": np.asarray(timestamps, dtype=np.int64),
        "names": np.asarray(names, dtype=np.int32),
        "latency": np.asarray(latency, dtype=np.float64),
        "cost": np.asarray(cost, dtype=np.float64),
        "success": np.where(np.isnan(success), -1, success).astype(np.int8),
        "prompt": token_counts[:, 0].copy(),
        "completion": token_counts[:, 1].copy(),
        "total": token_counts[:, 2].copy(),
        "model": np.asarray(model, dtype=np.int32),
        "provider": np.asarray(provider, dtype=np.int32),
        "weight": np.asarray(weight, dtype=np.float64),
        "serial": np.asarray(serial, dtype=np.int64),
        "prefix": np.full(len(rows.rows), prefix_code(), dtype=np.uint16),
        "kind": np.asarray(kind, dtype=np.uint8),
    }


def store_rows(state: ExperimentState, rows: Any, detect: bool = False) -> None:
    """Turn a batch's collected rows into a stored block and a statistics batch."""
    store_columns(state, columns_of(rows), rows.payloads, rows.extras, rows.custom, detect)


def store_columns(
    state: ExperimentState,
    columns: dict[str, Any],
    payloads: list[bytes],
    extras: dict[int, Any],
    custom: dict[str, list[float]] | None = None,
    detect: bool = False,
) -> None:
    """Store a batch's columns as a block (rows of weight 0 left out) and queue its statistics.

    ``payloads`` holds each row's encoded fields (``b""`` for rows in
    ``extras``); ``custom`` the detector's metric values, scored when ``detect``.
    """
    state.pending.append(
        StatsBatch(columns["names"], columns["latency"], columns["cost"], columns["success"])
    )
    state.pending_rows += len(payloads)
    stored = columns["weight"] > 0.0
    keep = None if bool(stored.all()) else stored
    if detect:
        _detect(state, columns, custom or {}, keep)
    if keep is not None:
        columns = {key: value[keep] for key, value in columns.items()}
        positions = np.flatnonzero(keep).tolist()
        new_position = {old: new for new, old in enumerate(positions)}
        payloads = [payloads[old] for old in positions]
        extras = {new_position[old]: value for old, value in extras.items() if old in new_position}
    if len(payloads):
        block = build_block(columns, payloads, extras, state.store.next_seq())
        state.store.add(block)
        if state.listeners:
            tell_listeners(state, block)
    evicted = state.sampler.take_evicted() if state.sampler is not None else None
    if evicted:
        state.store.evict(evicted)


def tell_listeners(state: ExperimentState, block: Any) -> None:
    """Hand a stored block to every listener; a failing listener is logged, not fatal."""
    store = state.store
    batch = StoredBatch(
        state.record, block, store.names.view(), store.models.view(), store.providers.view()
    )
    for listener in list(state.listeners):
        try:
            listener(batch)
        except Exception:
            logger.exception("a listener of experiment %r failed", state.id)


def fold_pending(state: ExperimentState) -> None:
    """Fold the queued statistics batches into the live statistics. O(pending)."""
    if state.pending:
        batches, state.pending, state.pending_rows = state.pending, [], 0
        state.stats.fold(batches, state.store.names.view())
