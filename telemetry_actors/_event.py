"""The stored event: what an emitted event becomes after enrichment."""

from __future__ import annotations

import itertools
import os
from typing import Any

import msgspec

from ._types import EventName

#: Event ids are this per-process random prefix plus ``hex(serial)``, e.g.
#: ``"3f9a0c51d2e7-0x1a"``: unique across processes and runtimes (archives keep
#: their ids) at ~100 ns, where uuid4 costs over a microsecond.
EVENT_ID_PREFIX = os.urandom(6).hex() + "-"
_id_counter = itertools.count(1)


#: A fresh serial for an event (a C-level counter: atomic across threads).
next_serial = _id_counter.__next__


def new_event_id() -> str:
    """A fresh event id: unique within and (with overwhelming odds) across processes."""
    return EVENT_ID_PREFIX + hex(next_serial())


class Event(msgspec.Struct, frozen=True, gc=False):
    """One stored telemetry event.

    ``timestamp`` is µs since the Unix epoch. ``latency_ms``, ``cost_usd`` and
    ``success`` are derived by enrichment; ``session_id`` … ``provider`` are
    copied from the metadata keys of the same name. Fields may also be given
    positionally, in this order.
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


EVENT_FIELDS: frozenset[str] = frozenset(Event.__struct_fields__)

#: The Event fields copied from the metadata keys of the same name.
COPIED_FIELDS = ("session_id", "user_id", "sample_id", "cohort", "model", "provider")
