"""The actor's hot path: decode, enrich and collect a run of emitted events.

Two paths store the same rows. An experiment that samples nothing and
detects nothing takes a whole run at once (``_bulk_ingest``: columns at C
speed). Sampling and detection decide event by event, in arrival order, so
their experiments take the loop here: one tuple per event, turned into
columns per batch (``_batch``). What an event's fields become is decided
in ``_row_fields`` for both.

Anything caller code raises while its objects are read here (any exception
class) counts that event as dropped; the actor carries on.
"""

from __future__ import annotations

import logging
from collections import deque
from time import perf_counter
from typing import Any

from .._enrichment import derive, model_of, provider_of
from .._event import ids
from .._full_gc import hold_young_collections, release_young_collections
from .._stats._sampling import AdaptiveSampler
from .._storage._block import TOKENS_FLOAT
from .._storage._codes import NONE_CODE
from ._batch import custom_value, observe_one, sampling_key, store_rows
from ._bulk_ingest import prepare_run, store_prepared_run, take_run
from ._mailbox import EVENT_SLOTS
from ._row_fields import field_of, settle
from ._state import ExperimentState

logger = logging.getLogger("telemetry_actors")

#: Items taken from the mailbox between two yields to the event loop.
BATCH_SIZE = 256
#: ... and at most this long (seconds): a flood never holds the loop longer.
BATCH_SECONDS = 0.002
#: Events between two looks at the clock.
_CLOCK_EVERY = 32

_NAN = float("nan")
#: The tokens of an event without token counts.
_NO_TOKENS = (_NAN, _NAN, _NAN)
#: The time stamps an int64 column holds.
_MIN_STAMP, _MAX_STAMP = -(2**63), 2**63 - 1
#: A value no event field is (starts the runs of equal names, models, providers).
_UNSET: Any = object()


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


def ingest(state: ExperimentState, queue: deque[Any], limit: int) -> tuple[int, Any]:
    """Take up to ``limit`` items from the mailbox, collecting events in order.

    Stops early at the first message and returns it, for the actor to handle
    before anything behind it: (items taken, that message or None). What was
    collected is stored and queued for the statistics before this returns.
    """
    if state.collecting and state.sampler is None and state.detector is None:
        items, taken, message = take_run(queue, limit)
        if message is not None:  # back in front until the run is stored, in case it raises
            queue.appendleft(message)
        hold_young_collections()  # the run's objects die young (see _full_gc)
        try:
            prepared = prepare_run(state, items)
        except Exception:
            # A bug somewhere in the run: redo it event by event, which loses
            # (and counts) only the event that raises.
            queue.extendleft(reversed(items))
        except BaseException:
            state.mailbox.count_drops(len(items) // EVENT_SLOTS)
            raise
        else:
            if message is not None:
                queue.popleft()
            if prepared is not None:
                store_prepared_run(state, prepared)
            return taken, message
        finally:
            release_young_collections()
        limit = taken
    return ingest_one_by_one(state, queue, limit)


def ingest_one_by_one(state: ExperimentState, queue: deque[Any], limit: int) -> tuple[int, Any]:
    """:func:`ingest` event by event (paused, sampling or detecting experiments).

    Also stops after :data:`BATCH_SECONDS`. What was collected is stored
    even if this raises.
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
            if not _MIN_STAMP <= timestamp <= _MAX_STAMP:
                dropped += 1  # no int64 column holds it
                continue
            try:
                kind, payload, kept, measurements, metadata = settle(
                    fields, given_measurements, given_metadata
                )
            except BaseException:
                dropped += 1
                raise  # no caller code's error gets here: a bug, the actor restarts
            try:
                latency, cost, outcome, tokens = derive(measurements, metadata, pricing)
                if kept is None:
                    model, provider = metadata.get("model"), metadata.get("provider")
                    if model is None:
                        model = model_of(metadata)
                    if provider is None:
                        provider = provider_of(metadata)
                else:
                    model = field_of(metadata, model_of)
                    provider = field_of(metadata, provider_of)
            except BaseException:
                dropped += 1
                if kept is None:
                    raise  # no caller code ran: a bug, the actor crashes (and restarts)
                continue  # caller code raised while its objects were read
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
                # Never remember a kept event's object: the next == would run its code.
                run_model = model if kept is None else _UNSET
                model_value = NONE_CODE if model is None else model_code(model)
            if kept is None and type(provider) is str and provider == run_provider:
                pass
            else:
                run_provider = provider if kept is None else _UNSET
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
