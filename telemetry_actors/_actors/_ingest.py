"""The actor's hot path: decode, enrich and collect a run of emitted events.

One loop over the mailbox collects each event's row into per-column lists;
one numpy step per batch then turns them into a block for the store and a
batch of numbers for the live statistics. Nothing per event is done twice:
the fields arrive encoded by ``emit`` and the encoded bytes are what the
store keeps.

Events whose fields were captured exactly (tuples, sets, bytes, your own
objects…) are encoded with marshal when it keeps them exactly, else kept
as objects. An event that arrived encoded is compared with the caller's
objects: if they differ, the caller changed them after ``emit`` or they
hold a type MessagePack writes as a plain value (an enum, a dataclass, a
date); the exact capture of the caller's objects is then kept when it still
encodes to the same bytes (unchanged since ``emit``), else the decoded
fields are (what was emitted, as MessagePack saw it).

Anything caller code raises while its objects are read here (any exception
class) counts that event as dropped; the actor carries on.
"""

from __future__ import annotations

import logging
import marshal
from collections import deque
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

import msgspec
import numpy as np

from .._emit._capture import Captured, capture_exact, encode_fields
from .._enrichment import derive, model_of, number_or_none, provider_of
from .._event import ids
from .._stats._sampling import AdaptiveSampler
from .._stats._streaming import StatsBatch
from .._storage._block import (
    KIND_KEPT,
    KIND_MARSHAL,
    KIND_MSGPACK,
    TOKENS_FLOAT,
    build_block,
)
from .._storage._codes import NONE_CODE
from .._storage._fields import KeptFields
from .._storage._memory import prefix_code
from ._state import ExperimentState, StoredBatch

logger = logging.getLogger("telemetry_actors")

#: Items taken from the mailbox between two yields to the event loop.
BATCH_SIZE = 256
#: ... and at most this long (seconds): a flood never holds the loop longer.
BATCH_SECONDS = 0.002
#: Events between two looks at the clock.
_CLOCK_EVERY = 32

_decode = msgspec.msgpack.Decoder().decode
_NAN = float("nan")
#: marshal version 4 keeps shared and cyclic containers as they are.
_MARSHAL_VERSION = 4
#: Stratified fields that enrichment derives: their place in ``_sampling_key``'s ``fields``.
_DERIVED = {"success": 0, "event_name": 1, "model": 2, "provider": 3}
#: Stratified fields every event takes from its experiment.
_CONTEXT = frozenset({"experiment_id", "experiment_name", "condition", "tags"})
#: success -> the success column's code.
_SUCCESS_CODES: dict[bool | None, int] = {None: -1, False: 0, True: 1}


class _Rows:
    """Per-column lists of one batch's collected events."""

    __slots__ = (
        "completion",
        "cost",
        "custom",
        "extras",
        "kind",
        "latency",
        "model",
        "names",
        "payloads",
        "prompt",
        "provider",
        "serial",
        "stored",
        "success",
        "timestamps",
        "total",
        "weight",
    )

    def __init__(self) -> None:
        self.timestamps: list[int] = []
        self.names: list[int] = []
        self.latency: list[float] = []
        self.cost: list[float] = []
        self.success: list[int] = []
        self.prompt: list[float] = []
        self.completion: list[float] = []
        self.total: list[float] = []
        self.model: list[int] = []
        self.provider: list[int] = []
        self.weight: list[float] = []
        self.serial: list[int] = []
        self.kind: list[int] = []
        self.payloads: list[bytes] = []
        self.extras: dict[int, Any] = {}
        self.stored: list[bool] = []
        #: Values of the detector's measurement/metadata metrics, per row.
        self.custom: dict[str, list[float]] = {}


def _exact_payload(captured: Captured) -> tuple[int, bytes, Any]:
    """(kind, payload bytes, kept object) of an exactly captured event."""
    if not captured.foreign:
        try:
            encoded = marshal.dumps([captured.measurements, captured.metadata], _MARSHAL_VERSION)
        except (ValueError, RecursionError):
            pass
        else:
            return KIND_MARSHAL, encoded, None
    return KIND_KEPT, b"", KeptFields(captured.measurements or {}, captured.metadata or {})


def _reconcile(encoded: bytes, measurements: Any, metadata: Any) -> Captured | None:
    """The exact capture of the caller's objects if they still encode to ``encoded``."""
    try:
        exact = capture_exact(measurements, metadata)
        if encode_fields((exact.measurements, exact.metadata)) == encoded:
            return exact
    except BaseException:
        return None
    return None


def ingest(state: ExperimentState, queue: deque[Any], limit: int) -> tuple[int, Any]:
    """Take up to ``limit`` items from the mailbox, collecting events in order.

    Stops early at the first message and returns it, for the actor to handle
    before anything behind it: (items taken, that message or None). Also
    stops after :data:`BATCH_SECONDS`. What was collected is stored and
    queued for the statistics before this returns, even if it raises.
    """
    popleft = queue.popleft
    taken = 0
    if not state.collecting:
        # Paused or stopped: events are not collected, up to the next message.
        while taken < limit and queue:
            item = popleft()
            taken += 1
            if type(item) is not tuple:
                return taken, item
            popleft(), popleft(), popleft(), popleft()  # the event's other slots
        return taken, None
    rows = _Rows()
    message: Any = None
    dropped = 0
    pricing = state.pricing
    nanoseconds = state.nanosecond_stamps
    name_code = state.store.names.code
    model_code = state.store.models.code
    provider_code = state.store.providers.code
    sampler = state.sampler
    detector = state.detector
    adaptive = isinstance(sampler, AdaptiveSampler) and detector is not None
    window = detector.spec.window if detector is not None else 0
    custom_metrics: dict[str, list[float]] = (
        {metric: [] for metric in detector.spec.metrics if "." in metric}
        if detector is not None
        else {}
    )
    rows.custom = custom_metrics
    next_serial = ids.next_serial
    started = perf_counter()
    run_name: Any = None
    run_code = 0
    try:
        while taken < limit and queue:
            name = popleft()
            taken += 1
            if type(name) is not tuple:
                message = name
                break
            fields, given_measurements, given_metadata, timestamp = (
                popleft(),
                popleft(),
                popleft(),
                popleft(),
            )
            if not taken % _CLOCK_EVERY and perf_counter() - started > BATCH_SECONDS:
                limit = taken  # this event is the batch's last
            if type(timestamp) is not int:
                dropped += 1  # the runtime's clock returned something else
                continue
            if nanoseconds:
                timestamp //= 1000
            plain = type(fields) is bytes or not fields.foreign
            try:
                kept: Any = None
                if type(fields) is bytes:
                    measurements, metadata = _decode(fields)
                    kind, payload = KIND_MSGPACK, fields
                    if (given_measurements is not None or given_metadata is not None) and _differ(
                        measurements, metadata, given_measurements, given_metadata
                    ):
                        exact = _reconcile(fields, given_measurements, given_metadata)
                        if exact is not None:
                            measurements, metadata = exact.measurements, exact.metadata
                            kind, payload, kept = _exact_payload(exact)
                else:
                    measurements, metadata = fields.measurements, fields.metadata
                    kind, payload, kept = _exact_payload(fields)
                if measurements is None:
                    measurements = {}
                if metadata is None:
                    metadata = {}
                latency, cost, outcome, tokens = derive(measurements, metadata, pricing)
                model = _field_of(metadata, model_of)
                provider = _field_of(metadata, provider_of)
            except BaseException:
                dropped += 1  # this event is lost, and counted
                if plain:
                    raise  # no caller code ran: a bug, the actor crashes (and restarts)
                continue  # caller code raised while its objects were read
            serial = next_serial()
            weight = 1.0
            if sampler is not None:
                flagged = adaptive and state.since_flag < window
                key = _sampling_key(state, sampler, (outcome, name, model, provider), metadata)
                weight = sampler.decide(serial, key, flagged)
            if custom_metrics:
                for metric, values in custom_metrics.items():
                    values.append(custom_value(metric, measurements, metadata))
            if adaptive:  # scored one by one: the next decision depends on this one
                state.since_flag += 1
                if weight > 0.0 and _observe_one(
                    state, serial, timestamp, latency, cost, custom_metrics
                ):
                    state.since_flag = 0
            if name is not run_name:
                run_name, run_code = name, name_code(name)
            position = len(rows.timestamps)
            rows.timestamps.append(timestamp)
            rows.names.append(run_code)
            rows.latency.append(_NAN if latency is None else latency)
            rows.cost.append(_NAN if cost is None else cost)
            rows.success.append(_SUCCESS_CODES[outcome])
            if tokens is None:
                rows.prompt.append(_NAN)
                rows.completion.append(_NAN)
                rows.total.append(_NAN)
                tokens_float = False
            else:
                rows.prompt.append(tokens[0])
                rows.completion.append(tokens[1])
                rows.total.append(tokens[2])
                tokens_float = any(type(count) is not int for count in tokens)
            rows.model.append(NONE_CODE if model is None else model_code(model))
            rows.provider.append(NONE_CODE if provider is None else provider_code(provider))
            rows.weight.append(weight)
            rows.serial.append(serial)
            rows.kind.append(kind | TOKENS_FLOAT if tokens_float else kind)
            rows.payloads.append(payload)
            if kept is not None:
                rows.extras[position] = kept
            rows.stored.append(weight > 0.0)
    finally:
        if dropped:
            state.mailbox.count_drops(dropped)
        if rows.timestamps:
            _store_rows(state, rows, detect=detector is not None and not adaptive)
    return taken, message


def _differ(
    measurements: Any, metadata: Any, given_measurements: Any, given_metadata: Any
) -> bool:
    """Do the decoded fields differ from the caller's objects? (True when comparing raises.)"""
    try:
        return bool(measurements != given_measurements or metadata != given_metadata)
    except BaseException:  # caller code (a key's or value's __eq__) raised
        return True


def _field_of(metadata: Any, read: Callable[[Any], Any]) -> Any:
    try:
        return read(metadata) if type(metadata) is dict else None
    except Exception:  # a key whose __eq__ raises shadows this one
        return None


def _sampling_key(
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


def _observe_one(
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


def _detect(state: ExperimentState, rows: _Rows, keep: Any) -> None:
    """Score a batch's stored events in arrival order (see ``LiveDetector.observe_many``)."""
    positions = np.flatnonzero(keep) if keep is not None else np.arange(len(rows.timestamps))
    if not len(positions):
        return
    prefix = ids.prefix
    serials = np.asarray(rows.serial, dtype=np.int64)[positions].tolist()
    columns: dict[str, Any] = {
        "latency_ms": np.asarray(rows.latency, dtype=np.float64)[positions],
        "cost_usd": np.asarray(rows.cost, dtype=np.float64)[positions],
    }
    for metric, values in rows.custom.items():
        columns[metric] = np.asarray(values, dtype=np.float64)[positions]
    found = state.detector.observe_many(
        [prefix + hex(serial) for serial in serials],
        np.asarray(rows.timestamps, dtype=np.int64)[positions],
        columns,
    )
    state.anomalies.extend(found)


def _store_rows(state: ExperimentState, rows: _Rows, detect: bool = False) -> None:
    """Turn a batch's lists into a stored block and a statistics batch."""
    names = np.asarray(rows.names, dtype=np.int32)
    latency = np.asarray(rows.latency, dtype=np.float64)
    cost = np.asarray(rows.cost, dtype=np.float64)
    success = np.asarray(rows.success, dtype=np.int8)
    state.pending.append(StatsBatch(names, latency, cost, success))
    state.pending_rows += len(names)
    stored = rows.stored
    columns: dict[str, Any] = {
        "timestamps": rows.timestamps,
        "names": names,
        "latency": latency,
        "cost": cost,
        "success": success,
        "prompt": rows.prompt,
        "completion": rows.completion,
        "total": rows.total,
        "model": rows.model,
        "provider": rows.provider,
        "weight": rows.weight,
        "serial": rows.serial,
        "prefix": [prefix_code()] * len(names),
        "kind": rows.kind,
    }
    payloads, extras = rows.payloads, rows.extras
    keep = None if all(stored) else np.asarray(stored, dtype=bool)
    if detect:
        _detect(state, rows, keep)
    if keep is not None:
        columns = {key: np.asarray(value)[keep] for key, value in columns.items()}
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


def mapping_or_empty(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty dict."""
    return value if isinstance(value, Mapping) else {}


Deriver = Callable[..., Any]
__all__ = ["BATCH_SECONDS", "BATCH_SIZE", "fold_pending", "ingest"]
