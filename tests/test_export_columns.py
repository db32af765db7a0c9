"""The pieces of the columnar exports against the per-value code they replace.

Date cells from numpy against ``datetime.isoformat``, CSV text joined at C
speed against ``csv.writer``, the scan for non-finite floats in a batch's
payload bytes against a search of each row's bytes, and fields flattened a
column at a time against ``csv_row``. (Stored rows reach the columnar path
only as MessagePack, which ``emit`` keeps for maps without lists; here it
gets lists and every other JSON value too.)
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from telemetry_actors import Event
from telemetry_actors._io._batches import _non_finite_rows
from telemetry_actors._io._csv_batch import _chunk_cells
from telemetry_actors._io._csv_cells import BASE, CsvContext, datetime_cells
from telemetry_actors._io._csv_row import csv_row, datetime_cell
from telemetry_actors._io._csv_text import csv_lines, header_line, quoted_column
from telemetry_actors._storage._materialize import _copied

FIRST_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00
LAST_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999
EDGES = [
    FIRST_US - 1,
    FIRST_US,
    FIRST_US + 1,
    LAST_US - 1,
    LAST_US,
    LAST_US + 1,
    -30_610_224_000_000_001,  # 0999-12-31T23:59:59.999999
    -1,
    0,
    1,
    951_782_400_000_000,  # 2000-02-29
    -(2**63),
    2**63 - 1,
    2**62,
    -(2**62),
]


@settings(max_examples=50)
@given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.sampled_from(EDGES), max_size=30))
def test_datetime_cells_are_isoformat_or_empty(stamps: list[int]) -> None:
    stamps = stamps + EDGES
    cells = datetime_cells(np.asarray(stamps, dtype=np.int64))
    assert cells == [datetime_cell(stamp) for stamp in stamps]


def writer_text(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


cells = st.text(alphabet=st.sampled_from("ab ,\"\r\n\x00\t'=é😀\u2028\\;"), max_size=6)


@settings(max_examples=200)
@given(
    st.integers(2, 5).flatmap(
        lambda width: st.lists(
            st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=6
        )
    )
)
def test_csv_text_is_what_csv_writer_writes(rows: list[list[str]]) -> None:
    """Rows of two cells or more (an export's rows have at least ten; the csv
    module writes a row of one empty cell as ``""``)."""
    columns = [quoted_column([row[index] for row in rows]) for index in range(len(rows[0]))]
    assert csv_lines(columns, len(rows)) == writer_text(rows)
    constant = [row[0] for row in rows]
    if len(set(constant)) == 1:  # a column given as one repeated cell
        repeated = [quoted_column(constant[:1])[0], *columns[1:]]
        assert csv_lines(repeated, len(rows)) == writer_text(rows)
    assert header_line(rows[0]) == writer_text(rows[:1])


_NON_FINITE = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]").search
PIECES = [b"\xcb\x7f\xf0", b"\xcb\xff\xff", b"\xcb\x7f", b"\xf0", b"\xcb", b"ab", b"\x00" * 5]


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 12)), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_non_finite_rows_match_a_search_of_each_row(
    blob: bytes, gaps_and_lengths: list[tuple[int, int]], random: Any
) -> None:
    """Rows back to back or far apart (dense or sparse), floats across row
    boundaries, rows in any order; rows never overlap, as in a block."""
    spans, at = [], 0
    for gap, length in gaps_and_lengths:
        start = min(at + gap, len(blob))
        end = min(start + length, len(blob))
        spans.append((start, end))
        at = end
    random.shuffle(spans)
    starts = np.asarray([start for start, _ in spans], dtype=np.int64)
    ends = np.asarray([end for _, end in spans], dtype=np.int64)
    expected = {index for index, (start, end) in enumerate(spans) if _NON_FINITE(blob, start, end)}
    assert set(_non_finite_rows(blob, starts, ends)) == expected


# ---------------------------------------------------- flattening a column at a time

keys = st.sampled_from(["a", "b", "a_b", "model", "provider", "sample_id", "cohort"]) | st.text(
    alphabet=st.sampled_from("ab_=-@\t,"), max_size=3
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(alphabet=st.sampled_from("ab=+-@\t\r,\"'"), max_size=4)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
json_dicts = st.dictionaries(
    keys | st.sampled_from(["gen_ai.response.model", "gen_ai.system", "session_id"]),
    json_values,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(json_dicts, json_dicts), min_size=1, max_size=6), st.booleans())
@example([({}, {"a_b": 1, "a": {"b": "=x"}})], True)  # one column written twice
@example([({}, {"a": {"b": 2}, "a_b": "=y"})], True)
@example([({"a": {"b_c": 1}, "a_b": {"c": "=z"}}, {})], True)
@example([({}, {"model": None, "gen_ai.response.model": {"x": "-1"}, "cohort": {}})], True)
def test_columnar_cells_are_the_cells_of_csv_row(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]], neutralize: bool
) -> None:
    """Rows of every shape (nested, lists, mixed types, colliding names), flattened a
    column at a time: each row not refused has exactly csv_row's cells."""
    context = CsvContext(True, neutralize)
    refused: set[int] = set()
    chunk = _chunk_cells(
        [[measurements, metadata] for measurements, metadata in pairs],
        [False] * len(pairs),
        context,
        refused,
    )
    expected_names: set[str] = set()
    for index, (measurements, metadata) in enumerate(pairs):
        session_id, user_id, sample_id, cohort, model, provider = _copied(metadata)
        event = Event(
            "id", ("a",), 0, "e", "n", "c", (), measurements, metadata,
            session_id=session_id, user_id=user_id, sample_id=sample_id, cohort=cohort,
            model=model, provider=provider,
        )  # fmt: skip
        cells = {
            name: text
            for name, text in csv_row(event, True, neutralize).items()
            if name not in BASE
        }
        expected_names |= set(cells)
        if index in refused:
            continue
        got = {
            name: column if type(column) is str else column[index]
            for name, column in chunk.items()
        }
        assert {name: got[name] for name in cells} == cells
        assert all(got[name] == "" for name in got if name not in cells)
    assert set(chunk) <= expected_names
