"""The time-ordered event store of one experiment, kept as compact columns.

Why columns: a stored event as an object with two dicts costs about 1 KB and
puts a million objects under the garbage collector; as a row of typed
columns plus one packed payload it costs under 200 bytes, and windows,
percentiles and sums read numbers straight from arrays. Events are
materialised as :class:`Event` objects only when read.

Rows are kept sorted by timestamp, ties in arrival order. Events nearly
always arrive in time order, so adding one is an append (made by the actor's
ingest loop); an out-of-order one is a bisect plus an insert that moves only
the rows after it.
"""

from __future__ import annotations

import gc
import marshal
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import compress
from typing import Any, cast

from ._enrichment import Context, Tokens, number_or_none, token_counts_of
from ._event import EVENT_ID_PREFIX, Event
from ._payload import Payload, Unpacked, decode_packed, repack, unpack_plain
from ._types import EventName, FieldDict

#: Stand-in in the numeric columns where a row has no value (its flag is 0).
_NO_VALUE = 0.0

#: Bits of a row's flags byte.
SUCCESS = 1
FAILURE = 2
HAS_LATENCY = 4
HAS_COST = 8
#: The marshal payload has been read once; a second read re-encodes it.
READ_BEFORE = 16
#: The payload is msgpack, re-encoded from marshal on its second read.
PACKED = 32
#: The payload is marshal and stays so (msgpack would not hold it exactly).
STAYS_MARSHAL = 64
OUTCOME_MASK = SUCCESS | FAILURE
#: The outcome bits of a row, by its ``success``.
OUTCOME_FLAGS = {True: SUCCESS, False: FAILURE, None: 0}
_OUTCOMES: tuple[bool | None, ...] = (None, True, False, None)


def _bit_table(flag: int) -> bytes:
    # bytes.translate table: each flags byte -> 1 if it has ``flag``, else 0.
    return bytes(1 if value & flag else 0 for value in range(256))


_TABLES = {flag: _bit_table(flag) for flag in (SUCCESS, FAILURE, HAS_LATENCY, HAS_COST)}
_HAS_LATENCY_TABLE = _TABLES[HAS_LATENCY]
_HAS_COST_TABLE = _TABLES[HAS_COST]


def row_flags(latency: float | None, cost: float | None, success: bool | None) -> int:
    """The flags byte of a row."""
    flags = OUTCOME_FLAGS[success]
    if latency is not None:
        flags |= HAS_LATENCY
    if cost is not None:
        flags |= HAS_COST
    return flags


class TokenTotals:
    """Running token sums over stored events (sums need no per-row column)."""

    __slots__ = ("completion", "count", "prompt", "total")

    def __init__(self) -> None:
        self.count = 0
        # Start from int 0 so that int token counts add up to ints.
        self.prompt: float = 0
        self.completion: float = 0
        self.total: float = 0

    def add(self, tokens: Tokens) -> None:
        """Count one event's (prompt, completion, total)."""
        self.count += 1
        self.prompt += tokens[0]
        self.completion += tokens[1]
        self.total += tokens[2]


class EventStore:
    """Columns of one experiment's events, sorted by timestamp."""

    __slots__ = (
        "_folded",
        "_inserted_latencies",
        "context",
        "costs",
        "flags",
        "latencies",
        "names",
        "payloads",
        "timestamps",
        "tokens",
    )

    def __init__(self, context: Context) -> None:
        self.context = context
        self.timestamps = array("q")
        self.names: list[EventName] = []
        self.payloads: list[Payload | Event] = []
        self.latencies = array("d")  # 0.0 where the row has none (see flags)
        self.costs = array("d")
        self.flags = bytearray()  # per row: outcome, HAS_LATENCY, HAS_COST, payload encoding
        self.tokens = TokenTotals()
        # Rows before _folded have had their latency taken (take_new_latencies);
        # latencies of rows inserted before that row since wait here.
        self._folded = 0
        self._inserted_latencies: list[float] = []

    def __len__(self) -> int:
        return len(self.timestamps)

    # ------------------------------------------------------------------ writing

    def insert_emitted(
        self,
        timestamp: int,
        name: EventName,
        payload: Payload,
        latency: float | None,
        cost: float | None,
        success: bool | None,
    ) -> None:
        """Add one enriched event at its place in time. O(log n + rows moved).

        In-order events are appended by the actor's ingest loop directly; this
        is its path for an event older than the newest stored one.
        """
        self._insert_row(
            bisect_right(self.timestamps, timestamp),
            (timestamp, name, payload, latency, cost, success),
        )

    def add_event(self, event: Event) -> tuple[float | None, float | None, bool | None]:
        """Add an event as given (no enrichment); its numbers feed the columns when usable.

        Returns the (latency, cost, success) the columns took from it.
        """
        tokens = token_counts_of(event)
        if tokens is not None:
            self.tokens.add(tokens)
        row = (
            event.timestamp,
            event.event_name,
            event,
            number_or_none(event.latency_ms),
            number_or_none(event.cost_usd),
            event.success if isinstance(event.success, bool) else None,
        )
        self._insert_row(bisect_right(self.timestamps, event.timestamp), row)
        return row[3], row[4], row[5]

    def _insert_row(self, index: int, row: tuple[Any, ...]) -> None:
        timestamp, name, payload, latency, cost, success = row
        self.timestamps.insert(index, timestamp)
        self.names.insert(index, name)
        self.payloads.insert(index, payload)
        self.latencies.insert(index, _NO_VALUE if latency is None else latency)
        self.costs.insert(index, _NO_VALUE if cost is None else cost)
        self.flags.insert(index, row_flags(latency, cost, success))
        if index < self._folded:
            self._folded += 1
            if latency is not None:
                self._inserted_latencies.append(latency)

    def take_new_latencies(self) -> list[float]:
        """Latencies of the rows stored since the last call (or skip), in no set order.

        O(new rows), C speed: what a live percentile sketch folds in.
        """
        start = self._folded
        new = list(
            compress(self.latencies[start:], self.flags[start:].translate(_HAS_LATENCY_TABLE))
        )
        new += self._inserted_latencies
        self.skip_new_latencies()
        return new

    def skip_new_latencies(self) -> None:
        """Treat every stored row as taken by :meth:`take_new_latencies`."""
        self._folded = len(self)
        self._inserted_latencies = []

    # ------------------------------------------------------------------ reading

    def events(self, rows: Iterable[int]) -> list[Event]:
        """The events of the given rows, in that order. O(k)."""
        # Rebuilding events allocates three dicts per event and creates no
        # cycles; pausing the cyclic collector meanwhile keeps it from walking
        # every live object of the process, which in a big process costs more
        # than the rebuild itself. The previous state is restored.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._materialize(rows)
        finally:
            if collecting:
                gc.enable()

    def _materialize(self, rows: Iterable[int]) -> list[Event]:
        # Hot path, inlined by hand: a window of a thousand events is rebuilt
        # per query. Row by row rather than column slices: each row's boxed
        # numbers are made and freed while hot in cache.
        payloads, names, timestamps = self.payloads, self.names, self.timestamps
        latencies, costs, all_flags = self.latencies, self.costs, self.flags
        context = self.context
        experiment_id, experiment_name = context.experiment_id, context.experiment_name
        condition, tags = context.condition, context.tags
        decode: Callable[[Any], Unpacked] = decode_packed  # called only on PACKED rows
        loads: Callable[[Any], Any] = marshal.loads  # called only on bytes payloads
        event_class, unpack, outcomes = Event, unpack_plain, _OUTCOMES
        has_latency, has_cost, outcome_mask, packed = HAS_LATENCY, HAS_COST, OUTCOME_MASK, PACKED
        read_before, stays_marshal = READ_BEFORE, STAYS_MARSHAL
        id_prefix = EVENT_ID_PREFIX
        events: list[Event] = []
        append = events.append
        for row in rows:
            payload = payloads[row]
            flags = all_flags[row]
            if flags & packed:
                unpacked = decode(payload)
            elif type(payload) is bytes:
                serial, measurements, metadata = loads(payload)
                # The id in new_event_id()'s form.
                unpacked = unpack(id_prefix + hex(serial), measurements, metadata)
                if not flags & stays_marshal:
                    if flags & read_before:
                        self._repack(row, payload, unpacked, flags)
                    else:
                        all_flags[row] = flags | read_before
            elif type(payload) is event_class:
                append(payload)
                continue
            else:
                kept = cast("tuple[str, FieldDict, FieldDict]", payload)
                unpacked = unpack(kept[0], dict(kept[1]), dict(kept[2]))
            append(
                event_class(
                    unpacked.event_id,
                    names[row],
                    timestamps[row],
                    experiment_id,
                    experiment_name,
                    condition,
                    tags,
                    unpacked.measurements,
                    unpacked.metadata,
                    latencies[row] if flags & has_latency else None,
                    costs[row] if flags & has_cost else None,
                    outcomes[flags & outcome_mask],
                    unpacked.session_id,
                    unpacked.user_id,
                    unpacked.sample_id,
                    unpacked.cohort,
                    unpacked.model,
                    unpacked.provider,
                )
            )
        return events

    def _repack(self, row: int, payload: bytes, unpacked: Unpacked, flags: int) -> None:
        # A marshal row read a second time becomes msgpack when that is exact
        # (see _payload), so that its later reads decode faster; else it is
        # marked to stay marshal. Rows read once, as by an export, pay only
        # for the READ_BEFORE flag.
        repacked = repack(payload, unpacked)
        if repacked is None:
            self.flags[row] = flags | STAYS_MARSHAL
        else:
            self.payloads[row] = repacked
            self.flags[row] = flags | PACKED

    def all(self) -> list[Event]:
        """Every event in time order. O(n)."""
        return self.events(range(len(self)))

    def span(self, start: int, end: int) -> range:
        """Rows with ``start <= timestamp <= end``. O(log n)."""
        return range(bisect_left(self.timestamps, start), bisect_right(self.timestamps, end))

    def between(self, start: int, end: int) -> list[Event]:
        """Events with ``start <= timestamp <= end``. O(log n + k)."""
        return self.events(self.span(start, end))

    def last(self, n: int) -> list[Event]:
        """The last ``n`` events. O(k)."""
        size = len(self)
        return self.events(range(max(0, size - n), size)) if n > 0 else []

    def time_range(self) -> tuple[int, int] | None:
        """(earliest, latest) timestamp, or None when empty. O(1)."""
        if not self.timestamps:
            return None
        return self.timestamps[0], self.timestamps[-1]

    # ----------------------------------------------------------- column reads

    def latency_values(self) -> list[float]:
        """Every latency present, in time order. O(n), C speed."""
        return list(compress(self.latencies, self.flags.translate(_HAS_LATENCY_TABLE)))

    def cost_values(self) -> list[float]:
        """Every cost present, in time order. O(n), C speed."""
        return list(compress(self.costs, self.flags.translate(_HAS_COST_TABLE)))

    def mask(self, flag: int) -> bytearray:
        """One byte per row: 1 where the row has ``flag``, else 0. O(n), C speed."""
        return self.flags.translate(_TABLES[flag])

    def count(self, flag: int) -> int:
        """How many rows have ``flag``. O(n), C speed."""
        return self.mask(flag).count(1)

    def name_counts(self) -> Counter[EventName]:
        """How many rows have each event name. O(n), C speed."""
        return Counter(self.names)
