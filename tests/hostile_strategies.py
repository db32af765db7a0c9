"""Hostile inputs for ``emit``: strategies and hand-built special cases.

``emit`` accepts any ``Mapping`` for measurements and metadata, so the keys may
be of any hashable kind and the values anything at all: NaN and infinities,
huge ints, bytes, sets, control characters, huge strings, cycles, nesting
deeper than the recursion limit, and objects whose dunder methods raise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from hypothesis import strategies as st

#: Metadata and measurement keys that enrichment reads.
ENRICHMENT_KEYS = (
    "tokens",
    "cost",
    "model",
    "error",
    "exception",
    "response",
    "duration",
    "start",
    "stop",
    "status",
    "session_id",
    "user_id",
    "sample_id",
    "cohort",
    "provider",
)

HUGE_STRING = "x" * 100_000
DEPTH = 5_000

#: Strings a spreadsheet or a terminal might act on, and other awkward text.
AWKWARD_TEXT = (
    "",
    "\x00",
    "a\x00b",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\x1b[31mred\x1b[0m",
    "\u202egnp.exe",
    "\ufeff",
    "😀" * 3,
    "=1+1",
    "+cmd",
    "-2",
    "@SUM(A1)",
    '"quoted", comma',
    "gpt-4",
    "ok",
    "error",
    "../../etc/passwd",
    HUGE_STRING,
)

SPECIAL_FLOATS = (math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324)
SPECIAL_INTS = (2**200, -(2**200), 2**63, -(2**63) - 1, 2**64, 0, -1)


class StrRaises:
    """An object that cannot be printed: ``__str__`` and ``__repr__`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ refuses")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ refuses")


class Unusable:
    """An object whose ``__eq__``, ``__hash__`` and ``__bool__`` raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__ refuses")

    def __hash__(self) -> int:
        raise RuntimeError("__hash__ refuses")

    def __bool__(self) -> bool:
        raise RuntimeError("__bool__ refuses")

    def __repr__(self) -> str:
        return "Unusable()"


class ShadowKey:
    """A dict key that hashes like ``name`` but whose ``__eq__`` raises.

    Looking ``name`` up in a dict holding this key compares the two and raises.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        raise RuntimeError("__eq__ refuses")

    def __repr__(self) -> str:
        return f"ShadowKey({self.name!r})"


class CustomMapping(Mapping[Any, Any]):
    """A read-only ``Mapping`` that is not a ``dict``."""

    def __init__(self, items: Mapping[Any, Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"CustomMapping({self._items!r})"


class BrokenMapping(Mapping[Any, Any]):
    """A ``Mapping`` whose every read raises."""

    def _refuse(self, *args: object) -> NoReturn:
        raise RuntimeError("this mapping refuses to be read")

    __getitem__ = _refuse
    __iter__ = _refuse
    __len__ = _refuse
    keys = _refuse
    items = _refuse
    get = _refuse


def cyclic_dict() -> dict[str, Any]:
    """A dict that holds itself."""
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


def cyclic_list() -> list[Any]:
    """A list that holds itself."""
    value: list[Any] = [1, "two"]
    value.append(value)
    return value


def deep_list(depth: int = DEPTH) -> list[Any]:
    """A list nested ``depth`` levels deep."""
    value: list[Any] = ["bottom"]
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int = DEPTH) -> dict[str, Any]:
    """A dict nested ``depth`` levels deep."""
    value: dict[str, Any] = {"leaf": "bottom"}
    for _ in range(depth):
        value = {"down": value}
    return value


# --------------------------------------------------------------- strategies

floats = st.floats() | st.sampled_from(SPECIAL_FLOATS)
ints = st.integers(min_value=-(2**200), max_value=2**200) | st.sampled_from(SPECIAL_INTS)
#: Any text but lone surrogates (those are tested on their own).
texts = st.text(max_size=20) | st.sampled_from(AWKWARD_TEXT)

hashable_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), ints, floats, texts, st.binary(max_size=10)
)
hashables: st.SearchStrategy[Any] = st.recursive(
    hashable_scalars,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=4,
)

keys: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(ENRICHMENT_KEYS),
    texts,
    ints,
    st.none(),
    st.booleans(),
    floats,
    st.binary(max_size=5),
    st.tuples(hashable_scalars, hashable_scalars),
    st.frozensets(hashable_scalars, max_size=3),
)

scalars: st.SearchStrategy[Any] = st.one_of(
    hashable_scalars,
    st.builds(StrRaises),
    st.sampled_from(SPECIAL_FLOATS),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(keys, inner, max_size=3).map(CustomMapping),
        st.sets(hashables, max_size=3),
        st.frozensets(hashables, max_size=3),
    )


values: st.SearchStrategy[Any] = st.recursive(scalars, _containers, max_leaves=12)

#: Token counts as enrichment reads them, with hostile counts.
token_mappings: st.SearchStrategy[Any] = st.dictionaries(
    st.sampled_from(
        (
            "prompt",
            "completion",
            "total",
            "prompt_tokens",
            "completion_tokens",
            "input_tokens",
            "output_tokens",
        )
    ),
    values | floats | ints,
    max_size=4,
)

#: Values for the keys enrichment reads: numbers and text more often than not.
enrichment_values: st.SearchStrategy[Any] = st.one_of(
    floats, ints, texts, token_mappings, st.sampled_from(("gpt-4", "ok", "error")), values
)


@st.composite
def hostile_mappings(draw: st.DrawFn) -> Mapping[Any, Any] | None:
    """``None``, a dict or a custom ``Mapping`` of hostile keys and values."""
    if draw(st.integers(0, 9)) == 0:
        return None
    items: dict[Any, Any] = draw(st.dictionaries(keys, values, max_size=5))
    for key in draw(st.lists(st.sampled_from(ENRICHMENT_KEYS), max_size=4, unique=True)):
        items[key] = draw(enrichment_values)
    if draw(st.booleans()):
        return CustomMapping(items)
    return items


_name_parts = st.text(min_size=1, max_size=8)

#: Event names under ``fuzz``: dotted strs and tuples whose parts hold anything.
event_names: st.SearchStrategy[tuple[str, ...] | str] = st.one_of(
    st.lists(_name_parts.filter(lambda part: "." not in part), min_size=1, max_size=3).map(
        lambda parts: ".".join(["fuzz", *parts])
    ),
    st.lists(_name_parts, min_size=1, max_size=3).map(lambda parts: ("fuzz", *parts)),
)

#: One emitted event: (name, measurements, metadata, µs to advance the clock first).
hostile_emits = st.tuples(
    event_names,
    hostile_mappings(),
    hostile_mappings(),
    st.integers(min_value=0, max_value=200_000),
)
