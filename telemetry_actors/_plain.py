"""Making any caller value writable: JSON values pass through, everything else is ``str()``.

Exports and archives must never fail on a value's type. JSON values (str, int,
finite float, bool, None, list, str-keyed dict) are kept as they are so that an
archive round-trips exactly; anything else becomes its ``str()``: NaN and
infinities, bytes, sets, objects, non-str keys, cycles, and nesting too deep
to write.
"""

from __future__ import annotations

import math
from typing import Any

#: Deeper nesting than this is written as text, so no value can exhaust the stack.
MAX_DEPTH = 64


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when even that fails."""
    try:
        return str(value)
    except Exception:  # a hostile __str__, or recursion too deep to print
        return f"<unprintable {type(value).__name__}>"


def plain(
    value: Any,
    depth: int = 0,
    seen: frozenset[int] = frozenset(),
    keep_non_finite: bool = False,
) -> Any:
    """A JSON-representable copy of ``value`` (see the module docstring).

    ``keep_non_finite`` keeps NaN and infinities as floats (CSV writes them as
    numbers; JSON cannot).
    """
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        return value if keep_non_finite or math.isfinite(value) else safe_str(value)
    if kind is dict or kind is list or kind is tuple:
        if depth >= MAX_DEPTH or id(value) in seen:
            return safe_str(value)
        inner = seen | {id(value)}
        if kind is dict:
            return {
                (key if type(key) is str else safe_str(key)): plain(
                    item, depth + 1, inner, keep_non_finite
                )
                for key, item in value.items()
            }
        return [plain(item, depth + 1, inner, keep_non_finite) for item in value]
    return safe_str(value)


def plain_fields(fields: dict[str, Any], keep_non_finite: bool = False) -> dict[str, Any]:
    """:func:`plain` for a measurements or metadata dict."""
    result: dict[str, Any] = plain(fields, keep_non_finite=keep_non_finite)
    return result
