"""Append-only tables of values and their int codes (event names, models).

A column of small ints instead of one object per row keeps blocks compact
and lets filters compare ints. Only the actor adds values; readers in worker
threads take a :meth:`CodeTable.view`, which later additions never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: Codes for values that have none: None itself, and values that cannot be
#: dict keys (unhashable, or whose ``__hash__``/``__eq__`` raises).
NONE_CODE = -1
UNCODED = -2


class CodeTable:
    """Value <-> code, codes 0, 1, 2 … in order of first appearance."""

    __slots__ = ("_codes", "_values")

    def __init__(self, values: tuple[Any, ...] = ()) -> None:
        self._values: list[Any] = []
        self._codes: dict[Any, int] = {}
        for value in values:
            self.code(value)

    def __len__(self) -> int:
        return len(self._values)

    def code(self, value: Any) -> int:
        """The code of ``value``, adding it when new. O(1).

        Never raises: values that cannot be dict keys get :data:`UNCODED`.
        """
        if value is None:
            return NONE_CODE
        try:
            code = self._codes.get(value)
            if code is None:
                code = len(self._values)
                self._codes[value] = code
                self._values.append(value)
        except BaseException:
            return UNCODED
        return code

    def find(self, value: Any) -> int | None:
        """The code of a value already in the table, else None. Never raises."""
        if value is None:
            return NONE_CODE
        try:
            return self._codes.get(value)
        except BaseException:
            return None

    def view(self) -> tuple[Any, ...]:
        """The values so far, by code. O(len)."""
        return tuple(self._values)


class Distinct:
    """A run of values as its distinct values and each row's index into them.

    Made in a worker thread (``Distinct.of``), it lets the actor code a
    whole run with one :meth:`CodeTable.code` per distinct value and one
    numpy take (an archive's 4,096 rows hold a handful of names and models),
    instead of a dict lookup per row on the event loop.
    """

    __slots__ = ("index", "values")

    def __init__(self, values: list[Any], index: npt.NDArray[np.int32]) -> None:
        self.values = values
        self.index = index

    @classmethod
    def of(cls, rows: list[Any]) -> Distinct:
        """The distinct values of ``rows`` in order of first appearance. O(n).

        Values that cannot be dict keys (unhashable, or whose ``__hash__`` or
        ``__eq__`` raises) are never merged: each is a distinct value of its
        own, which :meth:`CodeTable.code` then maps to :data:`UNCODED`.
        """
        seen: dict[Any, int] = {}
        values: list[Any] = []
        index: list[int] = []
        for value in rows:
            try:
                at = seen.get(value)
                if at is None:
                    at = seen[value] = len(values)
                    values.append(value)
            except BaseException:
                at = len(values)
                values.append(value)
            index.append(at)
        return cls(values, np.array(index, dtype=np.int32))

    @classmethod
    def joined(cls, parts: list[Distinct]) -> Distinct:
        """The rows of ``parts`` one after the other. O(rows).

        A value found in two parts is kept twice (coded twice, to one code).
        """
        if not parts:
            return cls([], np.empty(0, np.int32))
        offsets = np.cumsum([0] + [len(part.values) for part in parts[:-1]])
        shifted = [part.index + np.int32(at) for part, at in zip(parts, offsets, strict=True)]
        return cls(
            [value for part in parts for value in part.values],
            np.concatenate(shifted).astype(np.int32, copy=False),
        )

    def coded(self, table: CodeTable) -> npt.NDArray[np.int32]:
        """Each row's code in ``table``, adding new values. O(distinct + rows), numpy."""
        codes = np.fromiter(map(table.code, self.values), np.int32, len(self.values))
        return codes[self.index] if len(codes) else np.empty(0, np.int32)
