"""What capturing an event's fields at ``emit`` costs the caller, by each way of doing it.

The contract asks ``emit`` to capture its fields when called: changing the
caller's dicts afterwards must change nothing stored. Each candidate below
captures the same typical LLM fields, ``{"duration": int}`` and ``{"model",
"provider", "tokens": {"prompt", "completion"}, "sample_id"}``, passed as the
two arguments ``emit`` gets, in a tight loop of plain function calls (the
call and loop overhead is in every variant alike, nothing is subtracted):

- a Python deep copy of the builtin containers (a recursive dict/list copy:
  the least a copy can do, it handles no tuples, sets or cycles);
- ``copy.deepcopy`` of the pair;
- ``marshal.dumps`` of the pair (version 4);
- ``pickle.dumps`` of the pair (highest protocol);
- what the library does: one ``msgspec.msgpack`` encode of the pair
  (``telemetry_actors._emit._capture.encode_fields``) plus the byte scan
  (``may_hold_markers``: a translate that returns the same object when no
  byte changes, plus an ``rpartition``) that proves the bytes decode back
  exactly; and the same encode with the scan emit used before (a translate
  deleting every non-marker byte), for the before/after of that scan;
- the library's exact fallback (``capture_exact``), used when that scan
  finds a value MessagePack cannot keep exactly;
- an empty function with the same arguments: what ``emit`` would cost if it
  captured nothing (the floor).
"""

from __future__ import annotations

import copy
import marshal
import pickle
from collections.abc import Callable
from itertools import repeat
from typing import Any

from telemetry_actors._emit._capture import (
    KEEP_NON_MARKERS,
    capture_exact,
    encode_fields,
    may_hold_markers,
)

from ._timing import Case, Config, Measurement, per_call, run_cases
from .emit_cost import MEASUREMENTS, METADATA

Capture = Callable[[Any, Any], Any]


def nothing(measurements: Any, metadata: Any) -> Any:
    """The floor: a call with the two fields that captures nothing."""
    return None


def copy_builtins(value: Any) -> Any:
    """A recursive copy of dicts and lists; any other value is kept as it is."""
    kind = type(value)
    if kind is dict:
        return {key: copy_builtins(item) for key, item in value.items()}
    if kind is list:
        return [copy_builtins(item) for item in value]
    return value


def python_copy(measurements: Any, metadata: Any) -> Any:
    """(a) Python deep copy of the builtin containers."""
    return copy_builtins(measurements), copy_builtins(metadata)


def deep_copy(measurements: Any, metadata: Any) -> Any:
    """(b) ``copy.deepcopy`` of the pair."""
    return copy.deepcopy((measurements, metadata))


def marshal_dump(measurements: Any, metadata: Any) -> Any:
    """(c) ``marshal.dumps`` of the pair."""
    return marshal.dumps((measurements, metadata), 4)


def pickle_dump(measurements: Any, metadata: Any) -> Any:
    """(d) ``pickle.dumps`` of the pair."""
    return pickle.dumps((measurements, metadata), pickle.HIGHEST_PROTOCOL)


def msgpack_and_scan(measurements: Any, metadata: Any) -> Any:
    """(e) The library's capture: one MessagePack encode and the marker byte scan."""
    encoded = encode_fields((measurements, metadata))
    return None if may_hold_markers(encoded) else encoded


#: Every byte but the markers (the bytes KEEP_NON_MARKERS keeps, but the pair's
#: own header 0x92): deleting these leaves only the markers.
_NOT_MARKERS = bytes(
    byte for byte in range(256) if KEEP_NON_MARKERS[byte] == byte and byte != 0x92
)


def msgpack_and_previous_scan(measurements: Any, metadata: Any) -> Any:
    """(e') The same encode with emit's previous scan (delete the non-markers, count)."""
    encoded = encode_fields((measurements, metadata))
    return encoded if len(encoded.translate(None, _NOT_MARKERS)) == 1 else None


def exact(measurements: Any, metadata: Any) -> Any:
    """The library's exact fallback for values MessagePack cannot keep."""
    return capture_exact(measurements, metadata)


CANDIDATES: tuple[tuple[str, str, Capture], ...] = (
    ("empty", "empty call with the two fields (captures nothing)", nothing),
    ("python_copy", "(a) Python deep copy of dicts/lists", python_copy),
    ("deepcopy", "(b) copy.deepcopy", deep_copy),
    ("marshal", "(c) marshal.dumps", marshal_dump),
    ("pickle", "(d) pickle.dumps", pickle_dump),
    ("msgpack", "(e) msgspec.msgpack encode + marker byte scan (used)", msgpack_and_scan),
    ("msgpack_previous", "(e') msgpack encode + the previous scan", msgpack_and_previous_scan),
    ("exact", "library's exact fallback (capture_exact)", exact),
)


def loop_of(capture: Capture, n: int) -> Callable[[], None]:
    """``n`` calls of ``capture(MEASUREMENTS, METADATA)``."""
    measurements, metadata = MEASUREMENTS, METADATA

    def loop() -> None:
        for _ in repeat(None, n):
            capture(measurements, metadata)

    return loop


def check() -> str:
    """Confirm the used capture accepts these fields (no fallback) and keeps them."""
    encoded = msgpack_and_scan(MEASUREMENTS, METADATA)
    if encoded is None:
        return "the byte scan sends these fields to the fallback"
    import msgspec

    same = msgspec.msgpack.decode(encoded) == [MEASUREMENTS, METADATA]
    return f"{len(encoded)} bytes, " + ("decodes equal" if same else "DECODES DIFFERENT")


async def run(config: Config) -> list[Measurement]:
    """ns per capture of each candidate, interleaved, median of ``config.reps``."""
    n = config.calls
    cases = [
        Case(f"capture.{key}", label, "ns/call", loop_of(function, n), per_call(n))
        for key, label, function in CANDIDATES
    ]
    results = await run_cases(cases, config.reps)
    for result in results:
        if result.key == "capture.msgpack":
            result.note = check()
    return results
