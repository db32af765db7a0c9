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
from collections.abc import Callable
from time import perf_counter
from typing import Any

import msgspec

from .._emit._capture import Captured, capture_exact, encode_fields
from .._enrichment import derive, model_of, provider_of
from .._event import ids
from .._stats._sampling import AdaptiveSampler
from .._storage._block import (
    KIND_KEPT,
    KIND_MARSHAL,
    KIND_MSGPACK,
    TOKENS_FLOAT,
)
from .._storage._codes import NONE_CODE
from .._storage._fields import KeptFields
from ._batch import custom_value, observe_one, sampling_key, store_rows
from ._state import ExperimentState

logger = logging.getLogger("telemetry_actors")

#: Items taken from the mailbox between two yields to the event loop.
BATCH_SIZE = 256
#: ... and at most this long (seconds): a flood never holds the loop longer.
BATCH_SECONDS = 0.002
#: Events between two looks at the clock.
_CLOCK_EVERY = 32

_decode = msgspec.msgpack.Decoder().decode
_NAN = float("nan")
#: The tokens of an event without token counts.
_NO_TOKENS = (_NAN, _NAN, _NAN)
#: A value no event field is (starts the runs of equal names, models, providers).
_UNSET: Any = object()
#: marshal version 4 keeps shared and cyclic containers as they are.
_MARSHAL_VERSION = 4


class _Rows:
    """One batch's collected events: a tuple per event (transposed at the end) and fields.

    A tuple per event costs one append where a list per column costs
    fifteen; ``zip(*rows)`` turns them into columns at C speed.
    """

    __slots__ = ("custom", "extras", "payloads", "rows")

    def __init__(self) -> None:
        #: (timestamp, name code, latency, cost, success, tokens, model code,
        #: provider code, weight, serial, kind); None where a value is missing.
        self.rows: list[tuple[Any, ...]] = []
        self.payloads: list[bytes] = []
        self.extras: dict[int, Any] = {}
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
    store = state.store
    name_code, model_code, provider_code = (
        store.names.code,
        store.models.code,
        store.providers.code,
    )
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
    append_row, append_payload = rows.rows.append, rows.payloads.append
    next_serial = ids.next_serial
    started = perf_counter()
    # Consecutive events nearly always share a name, model and provider
    # object: their codes are looked up once per run, not per event.
    run_name: Any = _UNSET
    run_model: Any = _UNSET
    run_provider: Any = _UNSET
    name_value = model_value = provider_value = 0
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
            kept: Any = None
            if type(fields) is bytes:
                # Plain maps decoded: no caller code runs here but __eq__ below.
                measurements, metadata = _decode(fields)
                kind, payload = KIND_MSGPACK, fields
                if given_measurements is not None or given_metadata is not None:
                    try:
                        differ = measurements != given_measurements or metadata != given_metadata
                    except BaseException:  # a caller's key or value raised in __eq__
                        differ = True
                    if differ:
                        exact = _reconcile(fields, given_measurements, given_metadata)
                        if exact is not None:
                            measurements, metadata = exact.measurements, exact.metadata
                            kind, payload, kept = _exact_payload(exact)
                if measurements is None:
                    measurements = {}
                if metadata is None:
                    metadata = {}
                try:
                    latency, cost, outcome, tokens = derive(measurements, metadata, pricing)
                except BaseException:
                    dropped += 1  # no caller code runs in derive: a bug; the actor restarts
                    raise
                if kept is None:
                    model, provider = metadata.get("model"), metadata.get("provider")
                    if model is None:
                        model = model_of(metadata)
                    if provider is None:
                        provider = provider_of(metadata)
                else:
                    model = _field_of(metadata, model_of)
                    provider = _field_of(metadata, provider_of)
            else:
                try:
                    measurements = fields.measurements or {}
                    metadata = fields.metadata or {}
                    kind, payload, kept = _exact_payload(fields)
                    latency, cost, outcome, tokens = derive(measurements, metadata, pricing)
                    model = _field_of(metadata, model_of)
                    provider = _field_of(metadata, provider_of)
                except BaseException:
                    if not fields.foreign:
                        dropped += 1
                        raise  # no caller code ran: a bug, the actor crashes (and restarts)
                    dropped += 1  # caller code raised while its objects were read
                    continue
            serial = next_serial()
            weight = 1.0
            if sampler is not None:
                flagged = adaptive and state.since_flag < window
                key = sampling_key(state, sampler, (outcome, name, model, provider), metadata)
                weight = sampler.decide(serial, key, flagged)
            if custom_metrics:
                for metric, values in custom_metrics.items():
                    values.append(custom_value(metric, measurements, metadata))
            if adaptive:  # scored one by one: the next decision depends on this one
                state.since_flag += 1
                if weight > 0.0 and observe_one(
                    state, serial, timestamp, latency, cost, custom_metrics
                ):
                    state.since_flag = 0
            if name is not run_name:
                run_name, name_value = name, name_code(name)
            # Decoded fields are new objects each time: compare by value (plain
            # values only; a kept event's objects might raise in __eq__).
            if kept is None and type(model) is str and model == run_model:
                pass
            else:
                run_model = model
                model_value = NONE_CODE if model is None else model_code(model)
            if kept is None and type(provider) is str and provider == run_provider:
                pass
            else:
                run_provider = provider
                provider_value = NONE_CODE if provider is None else provider_code(provider)
            if tokens is None:
                tokens = _NO_TOKENS
            elif type(tokens[0]) is float or type(tokens[1]) is float:
                kind |= TOKENS_FLOAT
            if kept is not None:
                rows.extras[len(rows.payloads)] = kept
            append_payload(payload)
            append_row(
                (
                    timestamp,
                    name_value,
                    latency,
                    cost,
                    outcome,
                    tokens,
                    model_value,
                    provider_value,
                    weight,
                    serial,
                    kind,
                )
            )
    finally:
        if dropped:
            state.mailbox.count_drops(dropped)
        if rows.rows:
            store_rows(state, rows, detect=detector is not None and not adaptive)
    return taken, message


def _field_of(metadata: Any, read: Callable[[Any], Any]) -> Any:
    try:
        return read(metadata) if type(metadata) is dict else None
    except Exception:  # a key whose __eq__ raises shadows this one
        return None
