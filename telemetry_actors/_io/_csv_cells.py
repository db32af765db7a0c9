"""The base CSV cells of a batch of rows, a column at a time from the snapshot's columns.

Ids, time stamps, dates, names, outcomes, weights, latency and cost are made
with numpy and C-level ``map`` (about 0.8 µs per row for all of them, half
of it ``repr`` of floats and ISO dates); the experiment's cells, event names
and id prefixes once per snapshot (:class:`CsvContext`). Cells are quoted
for CSV here (``_csv_text``) where they may need it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from .._experiment import datetime_to_us
from .._names import dotted
from .._storage._snapshot import Snapshot
from ._batches import RowBatch
from ._columnar import Flattener
from ._csv_row import cell
from ._csv_text import Column, quoted, quoted_column
from ._flat import TRIGGERS, Names

#: The base columns: every row has them.
BASE = (
    "event_id",
    "experiment_id",
    "experiment_name",
    "condition",
    "timestamp",
    "datetime",
    "event_name",
    "success",
    "sampling_weight",
    "tags",
    "latency_ms",
    "cost_usd",
)
_OUTCOMES = ("", "false", "true")  # success codes -1, 0, 1
#: The µs of the first and last instants ``datetime`` can hold (years 1 to 9999).
_FIRST_US = datetime_to_us(datetime.min.replace(tzinfo=UTC))
_LAST_US = datetime_to_us(datetime.max.replace(tzinfo=UTC))
#: The snapshot columns the cells of a batch are made from.
COLUMNS = (
    "timestamps",
    "names",
    "latency",
    "cost",
    "success",
    "weight",
    "serial",
    "prefix",
    "kind",
    "starts",
    "lengths",
)


def _neutral(text: str, neutralize: bool) -> str:
    return "'" + text if neutralize and text and text[0] in TRIGGERS else text


class CsvContext:
    """What one CSV export keeps across batches: options, caches, columns seen."""

    def __init__(self, flatten: bool, neutralize: bool) -> None:
        self.flatten = flatten
        self.neutralize = neutralize
        self.names: Names = {}
        self.flattener = Flattener(self.names, neutralize)
        self._snapshots: dict[int, tuple[Snapshot, _SnapshotCells]] = {}
        #: Every column of the rows so far.
        self.columns: set[str] = set()

    def cells_of(self, snapshot: Snapshot) -> _SnapshotCells:
        """The snapshot's constant cells and code tables, made once per export."""
        known = self._snapshots.get(id(snapshot))
        if known is None or known[0] is not snapshot:
            known = (snapshot, _SnapshotCells(snapshot, self.neutralize))
            self._snapshots[id(snapshot)] = known
        return known[1]


class _SnapshotCells:
    """Quoted cells that depend only on the snapshot: the experiment's, names', id prefixes'."""

    __slots__ = ("condition", "experiment_id", "experiment_name", "names", "prefixes", "tags")

    def __init__(self, snapshot: Snapshot, neutralize: bool) -> None:
        context = snapshot.context
        self.experiment_id = quoted(_neutral(cell(context.experiment_id), neutralize))
        self.experiment_name = quoted(_neutral(cell(context.experiment_name), neutralize))
        self.condition = quoted(_neutral(cell(context.condition), neutralize))
        self.tags = quoted(_neutral(",".join(cell(tag) for tag in context.tags), neutralize))
        self.names = [quoted(_neutral(cell(dotted(name)), neutralize)) for name in snapshot.names]
        self.prefixes = [_neutral(cell(prefix), neutralize) for prefix in snapshot.prefixes]


def _floats(values: np.ndarray[Any, Any]) -> list[str]:
    """Float cells: ``repr``, empty where NaN (no value)."""
    cells = list(map(repr, values.tolist()))
    for index in np.flatnonzero(np.isnan(values)).tolist():
        cells[index] = ""
    return cells


def _repeated_floats(values: np.ndarray[Any, Any]) -> list[str]:
    """Float cells of a column of few distinct values (weights): one ``repr`` per value."""
    if not len(values):
        return []
    distinct, inverse = np.unique(values.view(np.int64), return_inverse=True)
    texts = np.array([repr(value) for value in distinct.view(np.float64).tolist()], dtype=object)
    cells: list[str] = texts[inverse].tolist()
    return cells


def datetime_cells(stamps: np.ndarray[Any, Any]) -> list[str]:
    """ISO 8601 UTC cells of µs time stamps, empty outside the years 1 to 9999."""
    inside = (stamps >= _FIRST_US) & (stamps <= _LAST_US)
    every = bool(inside.all())
    safe = stamps if every else np.where(inside, stamps, 0)
    texts = np.datetime_as_string(safe.astype(np.int64).view("datetime64[us]"), unit="us")
    cells = [text + "+00:00" for text in texts.tolist()]
    if not every:
        for index in np.flatnonzero(~inside).tolist():
            cells[index] = ""
    return cells


def _ids(
    cells: _SnapshotCells, prefix: np.ndarray[Any, Any], serial: np.ndarray[Any, Any]
) -> list[str]:
    """Event id cells: the id prefix's cell (neutralized once) and the serial in hex."""
    if len(serial) and bool((serial >= 0).all()) and bool((prefix == prefix[0]).all()):
        text = cells.prefixes[int(prefix[0])]
        return [text + number for number in map(hex, serial.tolist())]
    prefixes = cells.prefixes
    return [
        prefixes[code] + hex(number) if number >= 0 else ""  # inserted rows: general path
        for code, number in zip(prefix.tolist(), serial.tolist(), strict=True)
    ]


def base_columns(
    batch: RowBatch, context: CsvContext, columns: dict[str, Any]
) -> dict[str, Column]:
    """The base cells of the batch's rows, quoted, a column at a time."""
    cells = context.cells_of(batch.snapshot)
    override = batch.snapshot.weight_override
    stamps = columns["timestamps"]
    names = cells.names
    return {
        "event_id": quoted_column(_ids(cells, columns["prefix"], columns["serial"])),
        "experiment_id": cells.experiment_id,
        "experiment_name": cells.experiment_name,
        "condition": cells.condition,
        "timestamp": list(map(str, stamps.tolist())),
        "datetime": datetime_cells(stamps),
        "event_name": list(map(names.__getitem__, columns["names"].tolist())),
        "success": list(
            map(_OUTCOMES.__getitem__, (columns["success"].astype(np.int64) + 1).tolist())
        ),
        "sampling_weight": (
            _repeated_floats(columns["weight"]) if override is None else quoted(cell(override))
        ),
        "tags": cells.tags,
        "latency_ms": _floats(columns["latency"]),
        "cost_usd": _floats(columns["cost"]),
    }
