"""The actor's fast path: a run of events taken from the mailbox at once, stored as columns.

Per event, a Python loop that decodes, compares, derives and codes costs
several microseconds; most of it is the loop itself. Here a run of up to
``limit`` events is popped in one C-level call and enriched column by
column (``_derive_batch``) straight from the caller's objects when they
provably still hold what ``emit`` encoded (:func:`derive_borrowed`: no
decoding at all); otherwise each row is decoded and checked
(``_row_fields.settle``). Python runs per row only for rows that need it
(a changed or exotic field, an unusual shape, a broken clock). The block
stored is the one the per-event path (``_ingest``) builds, row for row;
the tests compare the two.

Used when the experiment samples nothing and detects nothing (those decide
per event). A run is cut at :data:`RUN_BYTES` of payload so that a few huge
events never hold the event loop long.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from itertools import accumulate, repeat
from operator import call
from typing import Any

import numpy as np

from .._emit._capture import encode_builtin_fields
from .._enrichment import derive, model_of, provider_of
from .._event import ids
from .._storage._block import KIND_MSGPACK, TOKENS_FLOAT
from .._storage._codes import CodeTable
from .._storage._memory import prefix_code
from ._batch import store_columns
from ._derive_batch import DerivedColumns, derive_batch
from ._mailbox import EVENT_SLOTS
from ._row_fields import builtin_only, field_of, settle
from ._state import ExperimentState

#: Payload bytes in one run at most (a millisecond or so of checking or decoding).
RUN_BYTES = 256 * 1024
#: What a run counts for an event captured as objects (its size is unknown).
CAPTURED_BYTES = 4096


def take_run(queue: deque[Any], limit: int) -> tuple[list[Any], int, Any]:
    """Pop up to ``limit`` whole events from the left of ``queue``; stop at a message.

    Returns (the events' slots, items taken, the message or None). Slots
    popped beyond the message or :data:`RUN_BYTES` go back to the front, in
    order: only the actor takes from the left, so nothing can come between.
    """
    want = min(len(queue), limit * EVENT_SLOTS)
    items = list(map(call, repeat(queue.popleft, want)))
    heads = items[0::EVENT_SLOTS]
    message = None
    events = len(items) // EVENT_SLOTS
    if len(items) % EVENT_SLOTS or not set(map(type, heads)) == {tuple}:
        events = next(
            (at for at, head in enumerate(heads) if type(head) is not tuple),
            events,
        )
    cut = events * EVENT_SLOTS
    if cut < len(items) and type(items[cut]) is not tuple:
        message = items[cut]
        back = items[cut + 1 :]
    else:
        back = items[cut:]
    del items[cut:]
    budget = _within_budget(items[1::EVENT_SLOTS])
    if budget < events:
        back = items[budget * EVENT_SLOTS :] + ([] if message is None else [message]) + back
        del items[budget * EVENT_SLOTS :]
        events, message = budget, None
    if back:
        queue.extendleft(reversed(back))
    return items, events + (message is not None), message


def _within_budget(fields: list[Any]) -> int:
    """How many of the leading events fit in :data:`RUN_BYTES` (at least one)."""
    if set(map(type, fields)) == {bytes}:
        sizes = list(map(len, fields))
    else:
        sizes = [len(field) if type(field) is bytes else CAPTURED_BYTES for field in fields]
    if sum(sizes) <= RUN_BYTES:
        return len(fields)
    return max(bisect_right(list(accumulate(sizes)), RUN_BYTES), 1)


#: (columns, payloads, extras, events dropped) of a prepared run.
Prepared = tuple[dict[str, Any], list[bytes], dict[int, Any], int]


def collect_run(state: ExperimentState, items: list[Any]) -> None:
    """Enrich, store and queue for the statistics a run of events (see module doc)."""
    prepared = prepare_run(state, items)
    if prepared is not None:
        store_prepared_run(state, prepared)


def store_prepared_run(state: ExperimentState, prepared: Prepared) -> None:
    """Count a prepared run's dropped events, store its rows, queue its statistics."""
    columns, payloads, extras, dropped = prepared
    if dropped:
        state.mailbox.count_drops(dropped)
    if payloads:
        store_columns(state, columns, payloads, extras)


def prepare_run(state: ExperimentState, items: list[Any]) -> Prepared | None:
    """A run's columns, payloads and kept objects; changes nothing but the code tables."""
    names = items[0::EVENT_SLOTS]
    size = len(names)
    if not size:
        return None
    dropped: set[int] = set()
    stamps = _stamps(items[4::EVENT_SLOTS], state.nanosecond_stamps, dropped)
    fields = items[1::EVENT_SLOTS]
    kinds = np.full(size, KIND_MSGPACK, dtype=np.uint8)
    payloads: list[bytes] = fields.copy()  # rows settled one by one replace theirs
    kept: dict[int, Any] = {}
    derived = derive_borrowed(items, fields, state.pricing)
    if derived is None:
        measurements, metadata = _fields(items, fields, kinds, payloads, kept)
        derived = derive_batch(measurements, metadata, state.pricing)
    for row, value in kept.items():
        if not _derive_kept(derived, row, value, state):
            dropped.add(row)
    kinds[derived.float_tokens] |= TOKENS_FLOAT
    columns = {
        "timestamps": stamps,
        "latency": derived.latency,
        "cost": derived.cost,
        "success": derived.success,
        "prompt": derived.prompt,
        "completion": derived.completion,
        "total": derived.total,
        "weight": np.ones(size),
        "kind": kinds,
    }
    models, providers = derived.models, derived.providers
    extras = {row: value for row, value in kept.items() if row not in dropped}
    if dropped:
        keep = np.ones(size, dtype=bool)
        keep[list(dropped)] = False
        columns = {key: column[keep] for key, column in columns.items()}
        rows = np.flatnonzero(keep).tolist()
        names, models, providers, payloads = (
            [values[row] for row in rows] for values in (names, models, providers, payloads)
        )
        new_row = {old: new for new, old in enumerate(rows)}
        extras = {new_row[row]: value for row, value in extras.items()}
        size = len(rows)
    if not size:
        return columns, [], {}, len(dropped)
    store = state.store
    columns["names"] = _name_codes(store.names, names)
    columns["model"] = _codes(store.models, models, plain=not extras)
    columns["provider"] = _codes(store.providers, providers, plain=not extras)
    columns["serial"] = np.fromiter(map(call, repeat(ids.next_serial, size)), np.int64, size)
    columns["prefix"] = np.full(size, prefix_code(), dtype=np.uint16)
    return columns, payloads, extras, len(dropped)


def _stamps(stamps: list[Any], nanoseconds: bool, dropped: set[int]) -> Any:
    """The run's time stamps as int64 µs; rows whose clock gave no usable int are dropped."""
    try:
        if set(map(type, stamps)) == {int}:
            column = np.array(stamps, dtype=np.int64)
            return column // 1000 if nanoseconds else column
    except OverflowError:
        pass
    usable: list[int] = []
    for row, stamp in enumerate(stamps):
        if type(stamp) is int and nanoseconds:
            stamp //= 1000
        if type(stamp) is int and -(2**63) <= stamp < 2**63:
            usable.append(stamp)
        else:
            dropped.add(row)
            usable.append(0)
    return np.array(usable, dtype=np.int64)


def derive_borrowed(
    items: list[Any], fields: list[Any], pricing: Mapping[str, tuple[float, float]]
) -> DerivedColumns | None:
    """The run's enrichment read straight from the caller's objects, or None.

    ``_row_fields.still_encoded`` for a whole run at once, its two halves
    around the enrichment. The common case: every event arrived encoded and the caller's objects
    still hold exactly what was encoded. That is proven without decoding:
    ``builtin_only`` (one marshal pass: no subclass, enum or other class
    whose type MessagePack would lose), then the objects encode again, with
    no number converted (numpy scalars refused), to the emitted bytes. That
    comparison comes after enrichment has read them, so a change made
    meanwhile sends the run down the decoding path. The store keeps the
    emitted bytes either way. The check costs 0.76 µs per bench event where
    decoding and comparing cost 1.01 (256 events, same process); a whole run
    (prepared and stored) takes 0.66-0.78 of the decoding path's time, side
    by side. Never raises.
    """
    if set(map(type, fields)) != {bytes}:
        return None
    given_measurements = items[2::EVENT_SLOTS]
    given_metadata = items[3::EVENT_SLOTS]
    try:
        if not builtin_only(given_measurements, given_metadata):
            return None
        measurements = given_measurements
        if set(map(type, measurements)) != {dict}:
            measurements = [{} if value is None else value for value in measurements]
        metadata = given_metadata
        if set(map(type, metadata)) != {dict}:
            metadata = [{} if value is None else value for value in metadata]
        derived = derive_batch(measurements, metadata, pricing)
        # After use: what enrichment read is what was emitted only if the
        # objects still encode to the emitted bytes now.
        again = map(encode_builtin_fields, zip(given_measurements, given_metadata, strict=True))
        if list(again) != fields:
            return None
    except BaseException:  # the caller's objects changed under us: decode instead
        return None
    return derived


def _fields(
    items: list[Any],
    fields: list[Any],
    kinds: Any,
    payloads: list[bytes],
    kept: dict[int, Any],
) -> tuple[list[Any], list[Any]]:
    """Each row's (measurements, metadata) as enrichment reads them; fills kinds/payloads/kept.

    Row by row (``settle``): decoded, or captured exactly where the caller's
    objects differ from what was encoded or were captured so at ``emit``.
    """
    given_measurements = items[2::EVENT_SLOTS]
    given_metadata = items[3::EVENT_SLOTS]
    measurements, metadata = [], []
    for row, (encoded, given, given_meta) in enumerate(
        zip(fields, given_measurements, given_metadata, strict=True)
    ):
        # Raises only on a bug (no caller code's error gets here): ingest redoes
        # the run event by event, which isolates and counts the event.
        kind, payload, value, row_measurements, row_metadata = settle(encoded, given, given_meta)
        kinds[row], payloads[row] = kind, payload
        if value is not None:
            kept[row] = value
            row_measurements = row_metadata = {}  # enriched by _derive_kept
        measurements.append(row_measurements)
        metadata.append(row_metadata)
    return measurements, metadata


def _derive_kept(derived: DerivedColumns, row: int, value: Any, state: ExperimentState) -> bool:
    """Enrich a row kept as objects (caller code may run); False when it raised."""
    fields = value.measurements, value.metadata
    try:
        latency, cost, outcome, tokens = derive(fields[0], fields[1], state.pricing)
        model = field_of(fields[1], model_of)
        provider = field_of(fields[1], provider_of)
    except BaseException:
        return False  # caller code raised while its objects were read: dropped
    derived.latency[row] = np.nan if latency is None else latency
    derived.cost[row] = np.nan if cost is None else cost
    derived.success[row] = -1 if outcome is None else outcome
    if tokens is not None:
        derived.prompt[row], derived.completion[row], derived.total[row] = map(float, tokens)
        derived.float_tokens[row] = type(tokens[0]) is float or type(tokens[1]) is float
    derived.models[row], derived.providers[row] = model, provider
    return True


def _codes(table: CodeTable, values: list[Any], plain: bool) -> Any:
    """Each value's code in ``table`` (int32), as ``table.code`` gives them row by row.

    ``plain``: the values' ``==`` and ``hash`` run no caller code (decoded or
    copied builtin values; a copy may still be cyclic or deep, so only str
    values are compared here and any error falls back to ``table.code``).
    """
    size = len(values)
    if plain:
        first = values[0]
        if type(first) is str and values.count(first) == size:
            return np.full(size, table.code(first), dtype=np.int32)
        try:
            distinct = {value: table.code(value) for value in dict.fromkeys(values)}
        except Exception:  # unhashable, or too deep to hash: coded row by row below
            pass
        else:
            return np.fromiter(map(distinct.__getitem__, values), np.int32, size)
    return np.fromiter(map(table.code, values), np.int32, size)


def _name_codes(table: CodeTable, names: list[tuple[str, ...]]) -> Any:
    """The code of each event name (tuples of str; a run nearly always shares one)."""
    size = len(names)
    if names.count(names[0]) == size:
        return np.full(size, table.code(names[0]), dtype=np.int32)
    return _codes(table, names, plain=True)
