"""Holding off CPython's full garbage collections while a worker builds a large result.

A read of 1 M events creates about a million objects the cyclic collector
tracks (each event's metadata dict once it nests a dict). CPython 3.11 runs
a full collection each time the objects promoted to its oldest generation
grow by a quarter, so building that list triggers a dozen full passes, each
over the whole heap and each holding the GIL, hence the host's event loop:
measured during ``get_all`` of 1 M events, 12 passes, the longest 600 ms.

While any worker runs, the oldest generation's threshold is raised so only
young collections run (they scan only objects made since the last one:
well under a millisecond). When the last worker ends the threshold comes
back, and the next full collection scans the heap once, the cost any
program holding that many objects pays at its next full collection anyway.

Cost: a lock and two ``gc.set_threshold`` calls per read. Meanwhile the
host's own full collections wait (its young collections do not).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The oldest generation's threshold while held: never reached.
HELD = 1 << 30

_lock = threading.Lock()
_holders = 0
_saved = 0


def holders() -> int:
    """How many workers hold full collections now (for tests)."""
    return _holders


@contextmanager
def full_collections_held() -> Iterator[None]:
    """No full collection starts inside the block (young ones still run).

    Reentrant and thread-safe; the threshold in force before the first holder
    comes back after the last one, unless someone set another meanwhile.
    """
    global _holders, _saved
    with _lock:
        if _holders == 0:
            young, middle, _saved = gc.get_threshold()
            gc.set_threshold(young, middle, HELD)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                young, middle, oldest = gc.get_threshold()
                if oldest == HELD:
                    gc.set_threshold(young, middle, _saved)


#: The youngest generation's threshold while held: above any run's allocations.
YOUNG_HELD = 1 << 20

_young_holders = 0
_young_saved = 0


def hold_young_collections() -> None:
    """No young collection starts until :func:`release_young_collections`.

    For the actor's bulk ingest and small reads on the loop
    (``_storage._reads.inline_events``): a run that has to decode, or a
    window's Events, build a few thousand containers at once; a young
    collection in the middle would find them alive and promote them, and
    promotions trigger full collections (50-200 ms over a large heap, on the
    event loop). Held, short-lived objects are freed by reference counting
    before any collection sees them. Reentrant and thread-safe; cost: a lock and one
    ``gc.set_threshold`` per call. Always pair with the release.
    """
    global _young_holders, _young_saved
    with _lock:
        if _young_holders == 0:
            young, middle, oldest = gc.get_threshold()
            _young_saved = young
            gc.set_threshold(YOUNG_HELD, middle, oldest)
        _young_holders += 1


def release_young_collections() -> None:
    """End a :func:`hold_young_collections` (the threshold comes back after the last)."""
    global _young_holders
    with _lock:
        _young_holders -= 1
        if _young_holders == 0:
            young, middle, oldest = gc.get_threshold()
            if young == YOUNG_HELD:  # unless someone set another meanwhile
                gc.set_threshold(_young_saved, middle, oldest)
