"""The time-ordered event store of one experiment.

Events live in parallel columns sorted by timestamp (ties in arrival order).
Events nearly always arrive in time order, so an insert is an O(1) append; an
out-of-order one is a bisect plus a list insert whose cost is the number of
later events it moves (a few, for the jitter of concurrent emitters). The
derived columns let windows and analysis read numbers without touching events.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ._event import Event


class EventStore:
    """Columns of one experiment's events, kept in time order."""

    __slots__ = ("costs", "events", "latencies", "successes", "timestamps")

    def __init__(self) -> None:
        self.timestamps: list[int] = []
        self.events: list[Event] = []
        self.latencies: list[float | None] = []
        self.costs: list[float | None] = []
        self.successes: list[bool | None] = []

    def __len__(self) -> int:
        return len(self.events)

    def add(self, event: Event) -> None:
        """Store one event. O(1) in time order; O(events moved) otherwise."""
        timestamps = self.timestamps
        timestamp = event.timestamp
        if not timestamps or timestamps[-1] <= timestamp:
            timestamps.append(timestamp)
            self.events.append(event)
            self.latencies.append(event.latency_ms)
            self.costs.append(event.cost_usd)
            self.successes.append(event.success)
            return
        index = bisect_right(timestamps, timestamp)
        timestamps.insert(index, timestamp)
        self.events.insert(index, event)
        self.latencies.insert(index, event.latency_ms)
        self.costs.insert(index, event.cost_usd)
        self.successes.insert(index, event.success)

    def all(self) -> list[Event]:
        """Every event in time order. O(n)."""
        return list(self.events)

    def between(self, start: int, end: int) -> list[Event]:
        """Events with ``start <= timestamp <= end``. O(log n + k)."""
        low = bisect_left(self.timestamps, start)
        high = bisect_right(self.timestamps, end)
        return self.events[low:high]

    def last(self, n: int) -> list[Event]:
        """The last ``n`` events. O(k)."""
        if n <= 0:
            return []
        return self.events[-n:]

    def time_range(self) -> tuple[int, int] | None:
        """(earliest, latest) timestamp, or None when empty. O(1)."""
        if not self.timestamps:
            return None
        return self.timestamps[0], self.timestamps[-1]
