"""Durations as people type them (``30s``, ``5m``, ``250ms``, ``1h``, ``45``) and as shown.

The library measures time in int microseconds; these turn text into that and back.
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_UNITS_US = {"ms": 1_000, "s": 1_000_000, "min": 60_000_000, "m": 60_000_000, "h": 3_600_000_000}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h)?")
_HINT = "use e.g. 30s, 5m, 1h, 250ms, or a number of seconds"


def parse_duration(text: str) -> int:
    """``text`` in int microseconds: a number and an optional unit, seconds by default.

    Units are ``ms``, ``s``, ``m`` or ``min``, and ``h``, in any case, with or
    without a space.

    Example:
        >>> parse_duration("5m"), parse_duration("1.5"), parse_duration("250ms")
        (300000000, 1500000, 250000)

    Raises:
        ValueError: not a duration, or not at least one microsecond.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration; {_HINT}")
    number, unit = match.groups()
    microseconds = round(float(number) * _UNITS_US[unit or "s"])
    if microseconds <= 0:
        raise ValueError(f"{text!r} is too short: a duration must be > 0 (at least 1 µs)")
    return microseconds


def format_duration(microseconds: int) -> str:
    """A duration for people: ``30 s``, ``5 min``, ``1 h``, ``250 ms`` (min and h when whole).

    Example:
        >>> format_duration(90_000_000), format_duration(300_000_000)
        ('90 s', '5 min')
    """
    for unit, size in (("h", 3_600_000_000), ("min", 60_000_000), ("s", 1_000_000)):
        if microseconds >= size and microseconds % size == 0:
            return f"{microseconds // size} {unit}"
    if microseconds >= 1_000_000:
        return f"{microseconds / 1_000_000:g} s"
    return f"{microseconds / 1_000:g} ms"
