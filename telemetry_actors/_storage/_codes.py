"""Append-only tables of values and their int codes (event names, models).

A column of small ints instead of one object per row keeps blocks compact
and lets filters compare ints. Only the actor adds values; readers in worker
threads take a :meth:`CodeTable.view`, which later additions never change.
"""

from __future__ import annotations

from typing import Any

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
