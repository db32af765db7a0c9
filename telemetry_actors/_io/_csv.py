"""Events as CSV (RFC 4180, UTF-8), streamed a batch at a time.

The header is the sorted union of every row's columns, known for sure only
after the last row. Each batch is turned into cells (``_csv_batch``) and
laid out in the order of the columns seen so far. Usually every column has
appeared in the first batch: the header written before it stays right, and
batches go straight to the file. When a later batch brings a new column the
file is emptied and the writer goes on in two passes: batches are spooled
to a temporary file as finished CSV text, then the final header is written,
the batches written under an earlier header are built again from the
snapshot in the final order, and the spooled ones are copied (or built
again if they too came before a new column). At worst every batch is built
twice. No more than one batch of rows is in memory at a time; the spool
holds compact bytes.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .._storage._filters import check
from ._batches import RowBatch
from ._csv_batch import batch_cells, batch_text
from ._csv_cells import CsvContext
from ._csv_text import header_line

Header = tuple[str, ...]


def write_csv(
    batches: Iterable[RowBatch],
    stream: BinaryIO,
    flatten: bool,
    neutralize: bool = True,
    cancel: threading.Event | None = None,
) -> int:
    """Write the rows of ``batches`` as CSV to ``stream``; return the rows written.

    With ``neutralize``, text cells beginning with ``=``, ``+``, ``-``, ``@``,
    tab or CR get a leading ``'`` (numbers never change). About 4-5 µs per
    row for typical LLM telemetry.

    Raises:
        ReadCancelled: ``cancel`` was set (checked between batches, and once
            more when the last batch is written).
    """
    context = CsvContext(flatten, neutralize)
    start = _start(stream)
    header: Header = ()
    direct: list[RowBatch] = []  # written to ``stream`` under ``header``
    spooled: list[tuple[RowBatch, Header, int]] = []
    count = 0
    with tempfile.TemporaryFile() as spool:
        for batch in _one_ahead(batches):
            cells = batch_cells(batch, context)
            count += cells.size
            grown = len(context.columns) != len(header)  # columns only ever grow
            if grown:
                header = tuple(sorted(context.columns))
            if start is not None and not spooled and (not grown or not direct):
                if not direct:
                    stream.write(header_line(header))
                stream.write(batch_text(cells, header))
                direct.append(batch)
                continue
            if start is not None and not spooled:  # the header written is wrong now
                stream.seek(start)
                stream.truncate()
            text = batch_text(cells, header)
            spool.write(text)
            spooled.append((batch, header, len(text)))
        check(cancel)
        if spooled or not direct:
            spool.flush()
            _second_pass(spool, spooled, direct, context, stream, cancel)
    return count


def _start(stream: BinaryIO) -> int | None:
    """Where the CSV starts in ``stream``, when the writer can go back there; else None."""
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError, AttributeError):
        return None


def _one_ahead(batches: Iterable[RowBatch]) -> Iterator[RowBatch]:
    """``batches`` in order, each handed out once the next one is taken: when the
    source ends (its last cancellation check) a batch is still to be written, and
    the check after it sees a cancellation made meanwhile."""
    iterator = iter(batches)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current
        current = following


def _second_pass(
    spool: BinaryIO,
    spooled: list[tuple[RowBatch, Header, int]],
    stale: list[RowBatch],
    context: CsvContext,
    stream: BinaryIO,
    cancel: threading.Event | None,
) -> None:
    """The final header, the batches written under an earlier one built again, then
    the spooled batches (copied, or built again when spooled under an earlier one)."""
    final = tuple(sorted(context.columns))
    stream.write(header_line(final))
    for batch in stale:
        check(cancel)
        stream.write(batch_text(batch_cells(batch, context), final))
    offset = 0
    for batch, used, size in spooled:
        check(cancel)
        if used == final:
            _copy(spool, offset, size, stream)
        else:
            stream.write(batch_text(batch_cells(batch, context), final))
        offset += size


def _copy(spool: BinaryIO, offset: int, size: int, stream: BinaryIO) -> None:
    """Append ``size`` bytes of ``spool`` from ``offset`` to ``stream``: by the kernel
    (``os.copy_file_range``, no copy through Python) when both are files, else read
    and written."""
    done = 0
    if hasattr(os, "copy_file_range"):
        try:
            stream.flush()
            source, target = spool.fileno(), stream.fileno()
            while done < size:
                copied = os.copy_file_range(source, target, size - done, offset + done)
                if not copied:
                    break
                done += copied
        except (OSError, ValueError, AttributeError):  # not files, or not this file system
            pass
        if done:
            stream.seek(0, io.SEEK_END)  # the buffered stream learns where the file ends
    if done < size:
        spool.seek(offset + done)
        stream.write(spool.read(size - done))
