"""Time-window specifications for :meth:`Runtime.query_window`.

Each spec validates itself when made, so a bad window fails at the call site
with ``ValueError`` rather than as an empty result.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

Unit: TypeAlias = Literal["seconds", "minutes", "hours"]

_UNIT_US: dict[str, int] = {
    "seconds": 1_000_000,
    "minutes": 60_000_000,
    "hours": 3_600_000_000,
}


def _check_count(kind: str, n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{kind} needs a whole number, got {n!r}")
    if n < 0:
        raise ValueError(f"{kind} needs n >= 0, got {n}")


class Last(msgspec.Struct, frozen=True):
    """Events with ``now - n·unit <= timestamp <= now``.

    Example:
        >>> Last(5, "minutes").span_us
        300000000
    """

    n: int
    unit: Unit

    def __post_init__(self) -> None:
        _check_count("Last", self.n)
        if self.n == 0:
            raise ValueError("Last needs n > 0; use LastN(0) for no events")
        if self.unit not in _UNIT_US:
            raise ValueError(
                f"unknown unit {self.unit!r} for Last; use 'seconds', 'minutes' or 'hours'"
            )

    @property
    def span_us(self) -> int:
        """The window's length in µs."""
        return self.n * _UNIT_US[self.unit]


class LastN(msgspec.Struct, frozen=True):
    """The last ``n`` events in time order (``LastN(0)`` gives none)."""

    n: int

    def __post_init__(self) -> None:
        _check_count("LastN", self.n)


class Range(msgspec.Struct, frozen=True):
    """Events with ``start <= timestamp <= end`` (µs)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise TypeError(f"Range bounds must be int µs, got {bound!r}")
        if self.start > self.end:
            raise ValueError(f"Range start {self.start} is after end {self.end}")


Window: TypeAlias = Last | LastN | Range


def parse_window(spec: object) -> Window:
    """Accept a spec object or its tuple form (``("last", n, unit)`` …).

    Raises:
        ValueError: an unknown tuple form or invalid bounds.
        TypeError: neither a spec nor a tuple.
    """
    if isinstance(spec, Last | LastN | Range):
        return spec
    if not isinstance(spec, tuple) or not spec:
        raise TypeError(
            f"window must be Last, LastN, Range or a tuple form, got {type(spec).__name__}"
        )
    kind, *args = spec
    forms: dict[object, tuple[type[Window], int]] = {
        "last": (Last, 2),
        "last_n": (LastN, 1),
        "range": (Range, 2),
    }
    if kind not in forms or len(args) != forms[kind][1]:
        raise ValueError(
            f"unknown window {spec!r}; use ('last', n, unit), ('last_n', n) "
            "or ('range', start, end)"
        )
    return forms[kind][0](*args)
