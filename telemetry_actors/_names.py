"""Event names: normalising what callers pass and matching subscription patterns."""

from __future__ import annotations

from collections.abc import Iterable

from ._types import EventName

WILDCARD = "*"


def normalize_event_name(name: object) -> EventName:
    """Turn a tuple of str or a dotted str into a tuple of str.

    Raises:
        TypeError: ``name`` is neither a str nor a tuple of str.
        ValueError: the name is empty or has an empty part.
    """
    if isinstance(name, str):
        parts = tuple(name.split("."))
    elif isinstance(name, tuple):
        for part in name:
            if not isinstance(part, str):
                raise TypeError(
                    f"event name parts must be str, got {type(part).__name__} in {name!r}"
                )
        parts = name
    else:
        raise TypeError(
            f"event name must be a tuple of str or a dotted str, got {type(name).__name__}"
        )
    if not parts or any(part == "" for part in parts):
        raise ValueError(f"event name must be non-empty with no empty parts, got {name!r}")
    return parts


def dotted(name: EventName) -> str:
    """``("a", "b")`` -> ``"a.b"``."""
    return ".".join(name)


class NamePattern:
    """One entry of an experiment's event list: an exact name or ``prefix.*``."""

    __slots__ = ("exact", "prefix")

    def __init__(self, name: object) -> None:
        parts = normalize_event_name(name)
        if parts[-1] == WILDCARD:
            self.prefix: EventName | None = parts[:-1]
            self.exact: EventName | None = None
        else:
            self.prefix = None
            self.exact = parts

    def matches(self, name: EventName) -> bool:
        """True when ``name`` is this exact name, or strictly longer than the prefix."""
        if self.exact is not None:
            return name == self.exact
        assert self.prefix is not None
        return len(name) > len(self.prefix) and name[: len(self.prefix)] == self.prefix


def compile_patterns(names: Iterable[object]) -> tuple[NamePattern, ...]:
    """Validate and compile an experiment's event list."""
    return tuple(NamePattern(name) for name in names)
