"""The variable CSV cells of many rows at once, grouped by the shape of their fields.

Rows whose metadata (or measurements, or a nested dict) has the same keys
with values of the same types in the same order form a group; a group's
values are transposed into columns at C speed and each column is turned
into cells by one ``map`` (``str`` for ints, ``repr`` for floats), with
one scan for cells to neutralize: about 0.05 µs a cell, where a loop over
values costs 0.15. The cells are those :func:`~._csv_row.csv_row` writes.

What this path does not handle it refuses, row by row: a non-str key, a
value of another type, a list it cannot join exactly, nesting near
``plain``'s limit, or flattened names that may collide (``{"a_b": 1, "a":
{"b": 2}}``, checked once per group). Refused rows take the general path.
Only MessagePack rows come here (valid text, 64-bit ints).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

# The keys an Event's model and provider are copied from, in order (``model_of``).
from .._enrichment import _MODEL_KEYS, _PROVIDER_KEYS
from ._flat import DEPTH, TRIGGERS, Names, joined

#: A column's cells for some rows: (column name, row indexes, cells or one cell for all).
Piece = tuple[str, Sequence[int], Sequence[str] | str]

_NONE = type(None)
_BOOLS = ("false", "true")
_TRIGGER_SET = frozenset(TRIGGERS)
_first_character = itemgetter(slice(None, 1))
_values = dict.values


def _neutral(cells: Sequence[str]) -> Sequence[str]:
    """Text cells with a ``'`` before those starting with a formula trigger."""
    if _TRIGGER_SET.isdisjoint(map(_first_character, cells)):
        return cells
    return ["'" + text if text and text[0] in TRIGGERS else text for text in cells]


def _scalar_cells(
    kind: type, values: Sequence[Any], neutralize: bool
) -> Sequence[str] | str | None:
    """The cells of a column of scalars of one type, or None for another type."""
    if kind is str:
        return _neutral(values) if neutralize else values
    if kind is int:
        return list(map(str, values))
    if kind is float:
        return list(map(repr, values))
    if kind is _NONE:
        return ""
    if kind is bool:
        return list(map(_BOOLS.__getitem__, values))
    return None


def _list_cells(
    rows: Sequence[int], values: Sequence[Any], neutralize: bool, depth: int, refused: set[int]
) -> list[str]:
    """The cells of a column of lists (items joined with ``,``); rows it cannot write refused."""
    cells = []
    for row, items in zip(rows, values, strict=True):
        text = joined(items, False, depth)
        if text is None:
            refused.add(row)
            text = ""
        elif neutralize and text and text[0] in TRIGGERS:
            text = "'" + text
        cells.append(text)
    return cells


class Flattener:
    """Turns groups of rows into :data:`Piece` lists; one per export (it caches names)."""

    def __init__(self, names: Names, neutralize: bool) -> None:
        self.names = names
        self.neutralize = neutralize
        #: Rows (indexes given by the caller) that must take the general path;
        #: the caller gives a fresh set for each chunk of rows.
        self.refused: set[int] = set()

    def dicts(
        self,
        rows: Sequence[int],
        dicts: Sequence[dict[Any, Any]],
        prefix: str,
        depth: int,
        copied: bool = False,
    ) -> tuple[list[Piece], set[str]]:
        """The pieces of ``dicts`` (one per row of ``rows``) flattened under ``prefix``,
        and every column name they write (with ``copied``, see :meth:`group`)."""
        groups: dict[tuple[tuple[Any, ...], tuple[type, ...]], list[int]] = {}
        for position, fields in enumerate(dicts):
            shape = (tuple(fields), tuple(map(type, _values(fields))))
            group = groups.get(shape)
            if group is None:
                groups[shape] = [position]
            else:
                group.append(position)
        pieces: list[Piece] = []
        names: set[str] = set()
        single = len(groups) == 1
        for (keys, kinds), positions in groups.items():
            members = dicts if single else [dicts[position] for position in positions]
            members_rows = rows if single else [rows[position] for position in positions]
            done = self.group(members_rows, members, keys, kinds, prefix, depth, copied)
            if done is None:
                self.refused.update(members_rows)
                continue
            pieces += done[0]
            names |= done[1]
        return pieces, names

    def group(
        self,
        rows: Sequence[int],
        dicts: Sequence[dict[Any, Any]],
        keys: tuple[Any, ...],
        kinds: tuple[type, ...],
        prefix: str,
        depth: int,
        copied: bool = False,
    ) -> tuple[list[Piece], set[str]] | None:
        """The pieces of dicts of one shape, or None to refuse them all.

        With ``copied`` (the metadata), also the columns of the fields an
        Event copies from it (``model`` … ``cohort``).
        """
        if depth >= DEPTH or any(type(key) is not str for key in keys):
            return None
        known = self.names.get(prefix)
        if known is None:
            known = self.names[prefix] = {}
        columns = list(zip(*map(_values, dicts), strict=True)) if keys else []
        pieces: list[Piece] = []
        direct: set[str] = set()
        nested: list[set[str]] = []
        cells_of: dict[int, Sequence[str] | str] = {}
        for index, (key, kind, values) in enumerate(zip(keys, kinds, columns, strict=True)):
            name = known.get(key)
            if name is None:
                name = known[key] = prefix + key
            done = self._column(rows, values, kind, name, depth)
            if done is None:
                return None
            pieces += done[0]
            if kind is dict:
                nested.append(done[1])
            else:
                direct.add(name)
                cells_of[index] = done[0][0][2]
        if copied:
            done = self._copied(rows, keys, kinds, columns, cells_of)
            if done is None:
                return None
            pieces += done[0]
            nested.append(done[1])
        names = set(direct)
        count = len(direct)
        for written in nested:
            names |= written
            count += len(written)
        if len(names) != count:  # two paths may write one column
            return None
        return pieces, names

    def _column(
        self, rows: Sequence[int], values: Sequence[Any], kind: type, name: str, depth: int
    ) -> tuple[list[Piece], set[str]] | None:
        """The pieces of one column of values of one type written as ``name``."""
        if kind is dict:
            return self.dicts(rows, values, name + "_", depth + 1)
        if kind is list:
            listed = _list_cells(rows, values, self.neutralize, depth + 1, self.refused)
            return [(name, rows, listed)], {name}
        cells = _scalar_cells(kind, values, self.neutralize)
        if cells is None:
            return None
        return [(name, rows, cells)], {name}

    def _copied(
        self,
        rows: Sequence[int],
        keys: tuple[str, ...],
        kinds: tuple[type, ...],
        columns: Sequence[Sequence[Any]],
        cells_of: dict[int, Sequence[str] | str],
    ) -> tuple[list[Piece], set[str]] | None:
        """The columns of the fields copied from metadata of one shape: ``model`` is the
        first of its keys (``model``, then the GenAI names) whose value is not None,
        likewise ``provider``; ``sample_id``, ``session_id`` and ``cohort`` their keys."""
        index = {key: position for position, key in enumerate(keys)}

        def first_present(candidates: tuple[str, ...]) -> int | None:
            for key in candidates:
                position = index.get(key)
                if position is not None and kinds[position] is not _NONE:
                    return position
            return None

        pieces: list[Piece] = []
        names: set[str] = set()
        for name, position in (
            ("model", first_present(_MODEL_KEYS)),
            ("provider", first_present(_PROVIDER_KEYS)),
            ("sample_id", index.get("sample_id")),
            ("session_id", index.get("session_id")),
            ("cohort", index.get("cohort")),
        ):
            if position is None:
                pieces.append((name, rows, ""))
                names.add(name)
                continue
            cells = cells_of.get(position)
            if cells is not None:  # a scalar or list column: the metadata's own cells
                pieces.append((name, rows, cells))
                names.add(name)
                continue
            done = self._column(rows, columns[position], kinds[position], name, 0)
            if done is None:
                return None
            pieces += done[0]
            names |= done[1]
        return pieces, names


def assembled(pieces: list[Piece], size: int) -> dict[str, Sequence[str] | str]:
    """The cells of ``size`` rows by column ("" where a piece gives a row none)."""
    columns: dict[str, Sequence[str] | str] = {}
    owned: set[str] = set()  # columns built here, free to fill in
    for name, rows, cells in pieces:
        if len(rows) == size and name not in columns:
            columns[name] = cells
            continue
        column = columns.get(name)
        if name not in owned:
            if column is None:
                column = [""] * size
            elif type(column) is str:
                column = [column] * size
            else:
                column = list(column)
            owned.add(name)
            columns[name] = column
        assert type(column) is list
        if type(cells) is str:
            for row in rows:
                column[row] = cells
        else:
            for row, text in zip(rows, cells, strict=True):
                column[row] = text
    return columns
