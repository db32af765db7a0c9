"""The CSV cells of one row's decoded fields, on a fast path that may refuse.

For the values a stored row usually holds (str, int, float, bool, None, and
lists and str-keyed dicts of them) the cells are made here with one type
test per value, about 0.15 µs each; they are exactly the cells of
:func:`~._csv_row.csv_row`, which runs every value through ``plain`` first.
Anything else, a value of another type, nesting near ``plain``'s depth
limit, or flattened names that collide (``{"a_b": 1, "a": {"b": 2}}``), makes
these functions answer -1 or None: the caller then takes the general path
for the whole row. Used row by row for rows decoded from marshal and for
exports without ``flatten``; ``_columnar`` does MessagePack rows a column at
a time with the helpers here (``joined``, ``simple``).

``exact`` is for rows decoded from marshal, whose text may hold lone
surrogates and whose ints may be too long to write: text is then escaped
(``utf8_text``) and long ints refused. MessagePack rows need neither.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from .._enrichment import model_of, provider_of
from ._csv_row import FORMULA_TRIGGERS
from ._plain import utf8_text

#: The first characters that make a text cell a formula (all triggers are one character).
TRIGGERS = "".join(FORMULA_TRIGGERS)
assert all(len(trigger) == 1 for trigger in FORMULA_TRIGGERS)
#: Nesting deeper than this is left to the general path (``plain`` stops at 64).
DEPTH = 32
#: Ints longer than this are text to ``plain`` (see ``_plain``).
_MAX_INT_BITS = 14_000

_encode_json = msgspec.json.Encoder().encode

#: Column names by prefix and key, built once per export.
Names = dict[str, dict[str, str]]


def _valid(text: str) -> bool:
    """Is ``text`` writable as UTF-8 as it is (no lone surrogates)?"""
    return utf8_text(text) is text


def simple(value: Any, exact: bool, depth: int) -> bool:
    """Is ``value`` what ``plain`` returns unchanged (str keys, JSON-like values)?

    Then ``str(value)`` is the text the general path writes for it.
    """
    kind = type(value)
    if kind is str:
        return not exact or _valid(value)
    if kind is int:
        return not exact or value.bit_length() <= _MAX_INT_BITS
    if kind is float or kind is bool or value is None:
        return True
    if depth >= DEPTH:
        return False
    if kind is dict:
        return all(
            type(key) is str and (not exact or _valid(key)) and simple(item, exact, depth + 1)
            for key, item in value.items()
        )
    if kind is list:
        return all(simple(item, exact, depth + 1) for item in value)
    return False


def json_plain(value: Any, exact: bool, depth: int = 0) -> bool:
    """Does ``value`` encode to JSON exactly as ``plain(value)`` does (finite floats too)?"""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return depth < DEPTH and all(
            type(key) is str and (not exact or _valid(key)) and json_plain(item, exact, depth + 1)
            for key, item in value.items()
        )
    if kind is list:
        return depth < DEPTH and all(json_plain(item, exact, depth + 1) for item in value)
    return simple(value, exact, depth)


def joined(items: list[Any] | tuple[Any, ...], exact: bool, depth: int) -> str | None:
    """A list's cell: its items' cells joined with ``,``; None to refuse."""
    cells: list[str] = []
    append = cells.append
    for item in items:
        kind = type(item)
        if kind is str:
            append(utf8_text(item) if exact else item)
        elif item is None:
            append("")
        elif kind is bool:
            append("true" if item else "false")
        elif kind is int:
            if exact and item.bit_length() > _MAX_INT_BITS:
                return None
            append(str(item))
        elif kind is float:
            append(repr(item))
        elif (kind is dict or kind is list) and simple(item, exact, depth):
            append(str(item))
        else:
            return None
    return ",".join(cells)


def _value_cells(
    row: dict[str, str],
    names: Names,
    name: str,
    value: Any,
    neutralize: bool,
    exact: bool,
    depth: int,
) -> int:
    """Put the cell(s) of one value (not None) into ``row`` under ``name``; cells
    written, -1 to refuse."""
    kind = type(value)
    if kind is str:
        if exact:
            value = utf8_text(value)
        row[name] = "'" + value if neutralize and value and value[0] in TRIGGERS else value
    elif kind is int:
        if exact and value.bit_length() > _MAX_INT_BITS:
            return -1
        row[name] = str(value)
    elif kind is float:
        row[name] = repr(value)
    elif kind is bool:
        row[name] = "true" if value else "false"
    elif kind is dict:
        if depth >= DEPTH:
            return -1
        return flat_cells(row, names, name + "_", value, neutralize, exact, depth + 1)
    elif kind is list or (exact and kind is tuple):
        text = joined(value, exact, depth + 1)
        if text is None:
            return -1
        row[name] = "'" + text if neutralize and text and text[0] in TRIGGERS else text
    else:
        return -1
    return 1


def flat_cells(
    row: dict[str, str],
    names: Names,
    prefix: str,
    fields: dict[Any, Any],
    neutralize: bool,
    exact: bool,
    depth: int,
) -> int:
    """Put the cells of ``fields`` into ``row`` as ``prefix + key`` (nested dicts
    as ``prefix + key + "_" + inner key``); the number of cells written, -1 to refuse.

    A text cell starting with a formula trigger gets a leading ``'`` when
    ``neutralize``; numbers never do. Text, numbers and None are handled
    inline, the rest by :func:`_value_cells`.
    """
    known = names.get(prefix)
    if known is None:
        known = names[prefix] = {}
    written = 0
    for key, value in fields.items():
        name = known.get(key)
        if name is None:
            if type(key) is not str:
                return -1
            name = known[key] = prefix + (utf8_text(key) if exact else key)
        kind = type(value)
        if kind is str and not exact:
            row[name] = "'" + value if neutralize and value and value[0] in TRIGGERS else value
        elif kind is int and not exact:
            row[name] = str(value)
        elif kind is float:
            row[name] = repr(value)
        elif value is None:
            row[name] = ""
        else:
            inner = _value_cells(row, names, name, value, neutralize, exact, depth)
            if inner < 0:
                return -1
            written += inner
            continue
        written += 1
    return written


def field_cells(
    row: dict[str, str],
    names: Names,
    fields: Any,
    flatten: bool,
    neutralize: bool,
    exact: bool,
) -> bool:
    """Put a row's variable cells into ``row`` (empty): the fields copied from the
    metadata (``model`` … ``cohort``), then ``metadata_*`` and ``measurement_*``
    (or the ``metadata`` and ``measurements`` JSON cells without ``flatten``).

    ``fields`` is the row's decoded ``[measurements, metadata]``. False to
    refuse: the row takes the general path.
    """
    measurements, metadata = fields
    if measurements is None:
        measurements = {}
    if metadata is None:
        metadata = {}
    if type(metadata) is not dict or type(measurements) is not dict:
        return False
    get = metadata.get
    model = get("model")
    if model is None:
        model = model_of(metadata)
    provider = get("provider")
    if provider is None:
        provider = provider_of(metadata)
    written = 0
    for name, value in (
        ("model", model),
        ("provider", provider),
        ("sample_id", get("sample_id")),
        ("session_id", get("session_id")),
        ("cohort", get("cohort")),
    ):
        if value is None:
            row[name] = ""
        elif type(value) is str and not exact:
            row[name] = "'" + value if neutralize and value and value[0] in TRIGGERS else value
        else:
            inner = _value_cells(row, names, name, value, neutralize, exact, 0)
            if inner < 0:
                return False
            written += inner
            continue
        written += 1
    if flatten:
        inner = flat_cells(row, names, "metadata_", metadata, neutralize, exact, 0)
        if inner < 0:
            return False
        written += inner
        inner = flat_cells(row, names, "measurement_", measurements, neutralize, exact, 0)
        if inner < 0:
            return False
        written += inner
    else:
        if not (json_plain(metadata, exact) and json_plain(measurements, exact)):
            return False
        row["metadata"] = _encode_json(metadata).decode()
        row["measurements"] = _encode_json(measurements).decode()
        written += 2
    return written == len(row)  # else two values were written to one column
