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

#: int -> str refuses more than 4300 digits by default; stay well inside that.
_MAX_INT_BITS = 14_000


def safe_str(value: object) -> str:
    """``str(value)`` as valid UTF-8 text, or a placeholder when even that fails."""
    try:
        text = str(value)
    except Exception:  # a hostile __str__, recursion too deep, an int too long to print
        if isinstance(value, int):
            return f"<int of {value.bit_length()} bits>"
        return f"<unprintable {type(value).__name__}>"
    return utf8_text(text)


def utf8_text(text: str) -> str:
    """``text`` itself, or with lone surrogates escaped so it can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


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
    if value is None or kind is bool:
        return value
    if kind is str:
        return utf8_text(value)
    if kind is int:
        # Ints too long for str() (over 4300 digits) cannot be written as numbers.
        return value if value.bit_length() <= _MAX_INT_BITS else safe_str(value)
    if kind is float:
        return value if keep_non_finite or math.isfinite(value) else safe_str(value)
    if kind is dict or kind is list or kind is tuple:
        if depth >= MAX_DEPTH or id(value) in seen:
            return safe_str(value)
        inner = seen | {id(value)}
        if kind is dict:
            return {
                (utf8_text(key) if type(key) is str else safe_str(key)): plain(
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
