"""The stored event, and event ids that stay unique across threads, runtimes and forks."""

from __future__ import annotations

import itertools
import os
from typing import Any

import msgspec

from ._types import EventName


class _IdSource:
    """A per-process random prefix and a counter: ids such as ``"3f9a0c51d2e7-0x1a"``.

    Unique across processes and runtimes (archives keep their ids) at about
    100 ns, where uuid4 costs over a microsecond. A forked child gets a new
    prefix (``os.register_at_fork``), so parent and child never repeat an id.
    """

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        """A fresh prefix and counter (at import and in a forked child)."""
        self.prefix = os.urandom(6).hex() + "-"
        counter = itertools.count(1)
        #: The next serial: a C-level counter, atomic across threads.
        self.next_serial = counter.__next__


ids = _IdSource()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=ids.renew)


def new_event_id() -> str:
    """A fresh event id: unique within and (with overwhelming odds) across processes."""
    return ids.prefix + hex(ids.next_serial())


class Event(msgspec.Struct, frozen=True, gc=False):
    """One stored telemetry event.

    ``timestamp`` is µs since the Unix epoch. ``latency_ms``, ``cost_usd`` and
    ``success`` are derived by enrichment; ``session_id`` … ``provider`` are
    copied from the metadata keys of the same name; ``sampling_weight`` is 1 /
    the probability that sampling kept the event (1.0 without sampling).
    Fields may also be given positionally, in this order.
    """

    event_id: str
    event_name: EventName
    timestamp: int
    experiment_id: str
    experiment_name: str
    condition: str
    tags: tuple[str, ...] = ()
    measurements: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    latency_ms: float | None = None
    cost_usd: float | None = None
    success: bool | None = None
    session_id: Any = None
    user_id: Any = None
    sample_id: Any = None
    cohort: Any = None
    model: Any = None
    provider: Any = None
    sampling_weight: float = 1.0


EVENT_FIELDS: frozenset[str] = frozenset(Event.__struct_fields__)

#: The Event fields copied from the metadata keys of the same name.
COPIED_FIELDS = ("session_id", "user_id", "sample_id", "cohort", "model", "provider")
