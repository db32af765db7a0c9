"""Compact storage of an event's measurements and metadata.

Dicts cost hundreds of bytes each; a ``marshal`` encoding of the same data
is a single bytes object of about a hundred. ``marshal`` is exact for the
builtin types (str, int of any size, float, bool, None, bytes, tuple, list,
set, frozenset, dict, even cycles) and refuses every other type, calling no
user code, so anything else is kept as a plain copy instead. The store
decodes payloads itself, in its read loop.
"""

from __future__ import annotations

import marshal
from typing import Any, TypeAlias

Fields: TypeAlias = dict[str, Any]
#: Either the marshalled (measurements, metadata) or the two dicts as given.
Payload: TypeAlias = bytes | tuple[Fields, Fields]

_dumps = marshal.dumps


def pack(measurements: Fields, metadata: Fields) -> Payload:
    """Encode both dicts compactly when every value is builtin, else keep them."""
    try:
        return _dumps((measurements, metadata))
    except (ValueError, RecursionError):  # a non-builtin value, or nesting too deep
        return (measurements, metadata)
