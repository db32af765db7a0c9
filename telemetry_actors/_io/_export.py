"""Exports: the events of one or more experiments as CSV or JSON Lines.

Runs in a worker thread on snapshots, ``batch`` events at a time, checking
``cancel`` between batches, and writes through :func:`~._paths.writing` so a
failed or cancelled export leaves no half file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .._event import Event
from .._storage._filters import check
from .._storage._snapshot import Snapshot
from ._csv import write_csv
from ._paths import writing
from ._records import event_json

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
#: Events built, encoded and written at a time.
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
) -> Iterator[tuple[list[Event], list[bool]]]:
    """(events, plain-JSON flags) of every snapshot in ``get_all`` order, a batch at a time."""
    for snapshot in snapshots:
        merged = snapshot.merged()
        for begin in range(0, merged.size, BATCH):
            check(cancel)
            positions = np.arange(begin, min(begin + BATCH, merged.size), dtype=np.int64)
            yield merged.events(positions), merged.plain_json(positions)


def jsonl_lines(events: Sequence[Event], plain: Sequence[bool]) -> bytes:
    """One JSON object per event per line."""
    if not events:
        return b""
    return b"\n".join(map(event_json, events, plain)) + b"\n"


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
    if format == "parquet":
        from ._parquet import write_parquet

        with writing(path, reserved) as stream:
            write_parquet(event_batches(snapshots, cancel), stream)
        return path
    with writing(path, reserved) as stream:
        if format == "csv":
            write_csv(
                (events for events, _ in event_batches(snapshots, cancel)),
                stream,
                flatten,
                neutralize,
                cancel,
            )
        else:
            for events, plain in event_batches(snapshots, cancel):
                stream.write(jsonl_lines(events, plain))
    return path
