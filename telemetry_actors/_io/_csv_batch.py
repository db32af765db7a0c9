"""A batch of rows as CSV: all its cells, then its text in a header's order.

Payloads are decoded :data:`CHUNK` rows at a time and dropped once turned
into cells, so the garbage collector's young collections, which decoded
dicts set off, find few of them alive to scan. MessagePack rows are
flattened a column at a time (``_columnar``); rows decoded from marshal
(values of other builtin types) a row at a time (``_flat``); rows kept as
objects or inserted whole, and rows those paths refuse, are built as Events
and written by the general :func:`~._csv_row.csv_row`. About 3 µs per row
in all, decoding included.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from ._batches import RowBatch
from ._columnar import Piece, assembled
from ._csv_cells import BASE, COLUMNS, CsvContext, base_columns
from ._csv_row import csv_row
from ._csv_text import Column, csv_lines, quoted, quoted_column
from ._flat import field_cells
from ._payloads import decoded_fields

#: Rows decoded at a time.
CHUNK = 1024


class BatchCells:
    """A batch's cells: base columns (quoted), variable columns, general-path rows."""

    __slots__ = ("base", "columns", "size", "slow", "variable")

    def __init__(
        self,
        base: dict[str, Column],
        variable: dict[str, list[str]],
        slow: dict[int, dict[str, str]],
        columns: set[str],
        size: int,
    ) -> None:
        self.base = base
        #: Variable cells by column, not quoted, ``""`` for rows without the column.
        self.variable = variable
        #: General-path rows: index -> every cell by column, not quoted.
        self.slow = slow
        #: Every column of the batch's rows.
        self.columns = columns
        self.size = size


class _Accumulated:
    """Columns of cells growing a chunk at a time, ``""`` for rows a chunk gave none."""

    def __init__(self) -> None:
        self.columns: dict[str, list[str]] = {}
        self.size = 0

    def add(self, chunk: dict[str, Sequence[str] | str], size: int) -> None:
        for name, cells in chunk.items():
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = [""] * self.size
            elif len(column) < self.size:
                column.extend(repeat("", self.size - len(column)))
            column.extend(repeat(cells, size) if type(cells) is str else cells)
        self.size += size

    def done(self) -> dict[str, list[str]]:
        for column in self.columns.values():
            if len(column) < self.size:
                column.extend(repeat("", self.size - len(column)))
        return self.columns


def _row_pieces(rows: list[tuple[int, dict[str, str]]]) -> list[Piece]:
    """Cells made a row at a time, as pieces: rows with the same columns together."""
    groups: dict[tuple[str, ...], list[tuple[int, dict[str, str]]]] = {}
    for index, row in rows:
        groups.setdefault(tuple(row), []).append((index, row))
    pieces: list[Piece] = []
    for names, members in groups.items():
        indexes = [index for index, _ in members]
        if names:
            cells = zip(*(row.values() for _, row in members), strict=True)
            pieces += [(name, indexes, column) for name, column in zip(names, cells, strict=True)]
    return pieces


def _chunk_cells(
    payloads: list[Any], exact: list[bool], context: CsvContext, refused: set[int]
) -> dict[str, Sequence[str] | str]:
    """The variable cells of a chunk's rows by column; rows for the general path
    are added to ``refused``."""
    flatten, neutralize, names = context.flatten, context.neutralize, context.names
    rows: list[int] = []
    metadatas: list[dict[Any, Any]] = []
    measurements: list[dict[Any, Any]] = []
    single: list[tuple[int, dict[str, str]]] = []
    for index, (pair, marshalled) in enumerate(zip(payloads, exact, strict=True)):
        if pair is None:
            refused.add(index)
            continue
        if flatten and not marshalled:
            measured, metadata = pair
            if measured is None:
                measured = {}
            if metadata is None:
                metadata = {}
            if type(measured) is dict and type(metadata) is dict:
                rows.append(index)
                metadatas.append(metadata)
                measurements.append(measured)
                continue
        row: dict[str, str] = {}
        if field_cells(row, names, pair, flatten, neutralize, marshalled):
            single.append((index, row))
        else:
            refused.add(index)
    flattener = context.flattener
    flattener.refused = refused
    pieces = _row_pieces(single)
    if rows:
        pieces += flattener.dicts(rows, metadatas, "metadata_", 0, copied=True)[0]
        pieces += flattener.dicts(rows, measurements, "measurement_", 0)[0]
    return assembled(pieces, len(payloads))


def batch_cells(batch: RowBatch, context: CsvContext) -> BatchCells:
    """Every cell of a batch's rows; their columns join ``context.columns``. O(rows)."""
    columns = batch.columns(*COLUMNS)
    variable = _Accumulated()
    slow: list[int] = []
    for first in range(0, len(batch), CHUNK):
        part = {name: values[first : first + CHUNK] for name, values in columns.items()}
        payloads, exact = decoded_fields(batch.part(first, first + CHUNK), part)
        refused: set[int] = set()
        variable.add(_chunk_cells(payloads, exact, context, refused), len(payloads))
        slow += sorted(first + index for index in refused)
        del payloads
    cells = variable.done()
    present = set(cells)
    if len(slow) < len(batch):
        present.update(BASE)
    general: dict[int, dict[str, str]] = {}
    if slow:
        flatten, neutralize = context.flatten, context.neutralize
        for index, event in zip(slow, batch.events(np.asarray(slow, dtype=np.int64)), strict=True):
            general[index] = row = csv_row(event, flatten, neutralize)
            present.update(row)
    context.columns.update(present)
    base = base_columns(batch, context, columns)
    return BatchCells(base, cells, general, present, len(batch))


def batch_text(cells: BatchCells, header: Sequence[str]) -> bytes:
    """The batch's rows as CSV lines, cells in ``header`` order (``""`` where a row
    has no such column). O(rows x columns), at C speed."""
    base, variable = cells.base, cells.variable
    columns: list[Column] = [
        base[name] if name in base else quoted_column(variable[name]) if name in variable else ""
        for name in header
    ]
    if cells.slow:
        size = cells.size
        filled = [[column] * size if type(column) is str else list(column) for column in columns]
        for index, row in cells.slow.items():
            for position, name in enumerate(header):
                filled[position][index] = quoted(row.get(name, ""))
        columns = list(filled)
    return csv_lines(columns, cells.size)
