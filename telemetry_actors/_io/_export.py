"""Exports: the events of one or more experiments as CSV, JSON Lines or Parquet.

Runs in a worker thread on snapshots, ``BATCH`` rows at a time, checking
``cancel`` between batches, and writes through :func:`~._paths.writing` so a
failed or cancelled export leaves no half file. CSV and JSON Lines are built
from the snapshot's columns and payloads (``_csv``, ``_jsonl``); Event
objects are made only for the rows that need them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from .._storage._filters import check
from .._storage._snapshot import Snapshot
from ._batches import RowBatch
from ._csv import write_csv
from ._jsonl import jsonl_lines
from ._paths import writing

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
#: Rows built, encoded and written at a time.
BATCH = 10_000


def check_format(format: object) -> Format:
    """Validate an export format name.

    Raises:
        ValueError: not ``"csv"``, ``"jsonl"`` or ``"parquet"``.
    """
    if format == "csv":
        return "csv"
    if format == "jsonl":
        return "jsonl"
    if format == "parquet":
        return "parquet"
    raise ValueError(f"unknown export format {format!r}; use 'csv', 'jsonl' or 'parquet'")


def event_batches(
    snapshots: Sequence[Snapshot], cancel: threading.Event | None
) -> Iterator[RowBatch]:
    """The rows of every snapshot in ``get_all`` order, ``BATCH`` at a time.

    ``events, plain = batch`` gives a batch's Events and plain-JSON flags.
    """
    for snapshot in snapshots:
        merged = snapshot.merged()
        for begin in range(0, merged.size, BATCH):
            check(cancel)
            yield RowBatch(merged, begin, min(begin + BATCH, merged.size))


def write_events(
    snapshots: Sequence[Snapshot],
    path: Path,
    reserved: bool,
    format: Format,
    flatten: bool,
    neutralize: bool,
    *,
    cancel: threading.Event | None = None,
) -> Path:
    """Write every event of ``snapshots`` to ``path`` in ``format``; return the path."""
    with writing(path, reserved) as stream:
        if format == "parquet":
            from ._parquet import write_parquet

            write_parquet(event_batches(snapshots, cancel), stream)
        elif format == "csv":
            write_csv(event_batches(snapshots, cancel), stream, flatten, neutralize, cancel)
        else:
            for batch in event_batches(snapshots, cancel):
                stream.write(jsonl_lines(batch))
    return path
