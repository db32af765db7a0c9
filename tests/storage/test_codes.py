"""Coding a run of values at once (``Distinct``) equals coding them row by row."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from telemetry_actors._storage._codes import NONE_CODE, UNCODED, CodeTable, Distinct


class Unhashable:
    __hash__ = None  # type: ignore[assignment]


class RaisesOnHash:
    def __init__(self, error: type[BaseException] = ValueError) -> None:
        self.error = error

    def __hash__(self) -> int:
        raise self.error


values = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(-3, 3),
    st.booleans(),
    st.tuples(st.text(max_size=2), st.text(max_size=2)),
    st.lists(st.integers(), max_size=2),
    st.builds(Unhashable),
    st.builds(RaisesOnHash),
)


def row_by_row(table: CodeTable, rows: list[Any]) -> list[int]:
    return [table.code(value) for value in rows]


@given(st.lists(values, max_size=40), st.lists(values, max_size=5))
def test_distinct_codes_equal_row_by_row_codes(rows: list[Any], known: list[Any]) -> None:
    by_row, at_once = CodeTable(), CodeTable()
    row_by_row(by_row, known)
    row_by_row(at_once, known)
    expected = row_by_row(by_row, rows)
    coded = Distinct.of(rows).coded(at_once)
    assert coded.dtype == np.int32
    assert coded.tolist() == expected
    assert at_once.view() == by_row.view()


def test_distinct_keeps_each_value_once_in_first_appearance_order() -> None:
    rows = [("a",), "gpt-4", ("a",), None, "gpt-4", [1], [1]]
    distinct = Distinct.of(rows)
    assert distinct.values[:4] == [("a",), "gpt-4", None, [1]]
    assert len(distinct.values) == 5  # unhashable values are not merged
    assert distinct.index.tolist() == [0, 1, 0, 2, 1, 3, 4]
    table = CodeTable()
    assert distinct.coded(table).tolist() == [0, 1, 0, NONE_CODE, 1, UNCODED, UNCODED]


def test_a_base_exception_from_hash_makes_the_value_uncoded() -> None:
    rows = ["a", RaisesOnHash(KeyboardInterrupt), "a"]
    assert Distinct.of(rows).coded(CodeTable()).tolist() == [0, UNCODED, 0]


def test_distinct_of_nothing() -> None:
    assert Distinct.of([]).coded(CodeTable()).tolist() == []


@given(st.lists(st.lists(values, max_size=10), max_size=5))
def test_joined_parts_code_as_their_rows_together(parts: list[list[Any]]) -> None:
    by_row, joined = CodeTable(), CodeTable()
    expected = row_by_row(by_row, [value for part in parts for value in part])
    coded = Distinct.joined([Distinct.of(part) for part in parts]).coded(joined)
    assert coded.tolist() == expected
    assert joined.view() == by_row.view()
