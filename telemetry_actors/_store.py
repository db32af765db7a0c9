"""The time-ordered event store of one experiment, kept as compact columns.

Why columns: a stored event as an object with two dicts costs about 1 KB and
puts a million objects under the garbage collector; as a row of typed
columns plus one packed payload it costs under 200 bytes, and windows,
percentiles and sums read numbers straight from arrays. Events are
materialised as :class:`Event` objects only when read.

Rows are kept sorted by timestamp, ties in arrival order. Events nearly
always arrive in time order, so adding one is an append; an out-of-order one
is a bisect plus an insert that moves only the rows after it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from itertools import compress
from typing import Any

from ._enrichment import Context, Tokens, materialize, number_or_none, token_counts_of
from ._event import Event, event_id_of
from ._payload import Payload
from ._types import EventName

#: Stand-in in the numeric columns where a row has no value (its flag is 0).
_NO_VALUE = 0.0


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
        "context",
        "costs",
        "failures",
        "has_cost",
        "has_latency",
        "latencies",
        "names",
        "payloads",
        "serials",
        "successes",
        "timestamps",
        "tokens",
    )

    def __init__(self, context: Context) -> None:
        self.context = context
        self.timestamps = array("q")
        self.serials = array("Q")  # 0: the row is an inserted Event, kept as given
        self.names: list[EventName] = []
        self.payloads: list[Payload | Event] = []
        self.latencies = array("d")
        self.has_latency = bytearray()
        self.costs = array("d")
        self.has_cost = bytearray()
        self.successes = bytearray()
        self.failures = bytearray()
        self.tokens = TokenTotals()

    def __len__(self) -> int:
        return len(self.timestamps)

    # ------------------------------------------------------------------ writing

    def append_emitted(
        self,
        timestamp: int,
        name: EventName,
        serial: int,
        payload: Payload,
        latency: float | None,
        cost: float | None,
        success: bool | None,
    ) -> None:
        """Add one enriched event. O(1) in time order; O(rows moved) otherwise."""
        timestamps = self.timestamps
        if not timestamps or timestamps[-1] <= timestamp:
            # Hot path, inlined by hand: one append per column.
            timestamps.append(timestamp)
            self.serials.append(serial)
            self.names.append(name)
            self.payloads.append(payload)
            if latency is None:
                self.latencies.append(_NO_VALUE)
                self.has_latency.append(0)
            else:
                self.latencies.append(latency)
                self.has_latency.append(1)
            if cost is None:
                self.costs.append(_NO_VALUE)
                self.has_cost.append(0)
            else:
                self.costs.append(cost)
                self.has_cost.append(1)
            self.successes.append(success is True)
            self.failures.append(success is False)
            return
        self._insert_row(
            bisect_right(timestamps, timestamp),
            (timestamp, serial, name, payload, latency, cost, success),
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
            0,
            event.event_name,
            event,
            number_or_none(event.latency_ms),
            number_or_none(event.cost_usd),
            event.success if isinstance(event.success, bool) else None,
        )
        timestamps = self.timestamps
        index = len(timestamps)
        if timestamps and timestamps[-1] > event.timestamp:
            index = bisect_right(timestamps, event.timestamp)
        self._insert_row(index, row)
        return row[4], row[5], row[6]

    def _insert_row(self, index: int, row: tuple[Any, ...]) -> None:
        timestamp, serial, name, payload, latency, cost, success = row
        self.timestamps.insert(index, timestamp)
        self.serials.insert(index, serial)
        self.names.insert(index, name)
        self.payloads.insert(index, payload)
        self.latencies.insert(index, _NO_VALUE if latency is None else latency)
        self.has_latency.insert(index, latency is not None)
        self.costs.insert(index, _NO_VALUE if cost is None else cost)
        self.has_cost.insert(index, cost is not None)
        self.successes.insert(index, success is True)
        self.failures.insert(index, success is False)

    # ------------------------------------------------------------------ reading

    def event(self, index: int) -> Event:
        """The event of one row, materialised."""
        payload = self.payloads[index]
        if type(payload) is Event:
            return payload
        return materialize(
            self.context,
            event_id_of(self.serials[index]),
            self.names[index],
            self.timestamps[index],
            payload,  # type: ignore[arg-type]
            self.latencies[index] if self.has_latency[index] else None,
            self.costs[index] if self.has_cost[index] else None,
            True if self.successes[index] else (False if self.failures[index] else None),
        )

    def events(self, indices: Iterable[int]) -> list[Event]:
        """The events of the given rows, in that order. O(k)."""
        event = self.event
        return [event(index) for index in indices]

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
        return list(compress(self.latencies, self.has_latency))

    def cost_values(self) -> list[float]:
        """Every cost present, in time order. O(n), C speed."""
        return list(compress(self.costs, self.has_cost))

    def name_counts(self) -> Counter[EventName]:
        """How many rows have each event name. O(n), C speed."""
        return Counter(self.names)
