"""Events as CSV (RFC 4180, UTF-8), written in two streaming passes.

The header is the sorted union of every row's columns, known only after the
last row; so the first pass turns events into rows a batch at a time,
collects the columns and spools the rows to a temporary file as
MessagePack, and the second writes the header and the spooled rows. No
more than one batch of events or rows is in memory at a time.
"""

from __future__ import annotations

import csv
import io
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

import msgspec

from .._event import Event
from .._experiment import datetime_from_us
from .._names import dotted
from .._storage._filters import check
from ._plain import plain, plain_fields, safe_str, utf8_text

#: A text cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

BASE_COLUMNS = (
    "event_id",
    "experiment_id",
    "experiment_name",
    "condition",
    "timestamp",
    "datetime",
    "event_name",
    "latency_ms",
    "cost_usd",
    "success",
    "model",
    "provider",
    "sample_id",
    "session_id",
    "cohort",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return utf8_text(value)
    return safe_str(value)


def _flatten(prefix: str, value: Any, row: dict[str, str], numeric: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}_{safe_str(key)}", item, row, numeric)
    elif isinstance(value, list):
        row[prefix] = ",".join(_cell(item) for item in value)
    else:
        row[prefix] = _cell(value)
        if type(value) is int or type(value) is float:
            numeric.add(prefix)


def _datetime_cell(timestamp: int) -> str:
    try:
        return datetime_from_us(timestamp).isoformat(timespec="microseconds")
    except OverflowError:  # outside the years 1 to 9999: no datetime, the µs stay
        return ""


def csv_row(event: Event, flatten: bool, neutralize: bool = True) -> dict[str, str]:
    """One event as CSV cells keyed by column name.

    With ``neutralize`` (the default), text cells that begin with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return get a leading ``'`` so that the file
    cannot run formulas when opened in a spreadsheet; numbers never change.
    """
    numeric = {"timestamp", "sampling_weight"}
    row = {
        "event_id": _cell(event.event_id),
        "experiment_id": _cell(event.experiment_id),
        "experiment_name": _cell(event.experiment_name),
        "condition": _cell(event.condition),
        "timestamp": str(event.timestamp),
        "datetime": _datetime_cell(event.timestamp),
        "event_name": _cell(dotted(event.event_name)),
        "success": _cell(event.success),
        "sampling_weight": _cell(event.sampling_weight),
        "tags": ",".join(_cell(tag) for tag in event.tags),
    }
    for column, value in (
        ("latency_ms", event.latency_ms),
        ("cost_usd", event.cost_usd),
        ("model", event.model),
        ("provider", event.provider),
        ("sample_id", event.sample_id),
        ("session_id", event.session_id),
        ("cohort", event.cohort),
    ):
        _flatten(column, plain(value, keep_non_finite=True), row, numeric)
    fields = {
        "metadata": plain_fields(event.metadata, keep_non_finite=flatten),
        "measurement": plain_fields(event.measurements, keep_non_finite=flatten),
    }
    if flatten:
        for prefix, values in fields.items():
            for key, value in values.items():
                _flatten(f"{prefix}_{key}", value, row, numeric)
    else:
        row["metadata"] = msgspec.json.encode(fields["metadata"]).decode()
        row["measurements"] = msgspec.json.encode(fields["measurement"]).decode()
    if neutralize:
        for column, cell in row.items():
            if cell.startswith(FORMULA_TRIGGERS) and column not in numeric:
                row[column] = "'" + cell
    return row


_spool_encoder = msgspec.msgpack.Encoder()
_spool_decoder = msgspec.msgpack.Decoder(list[dict[str, str]])


def write_csv(
    batches: Iterable[list[Event]],
    stream: BinaryIO,
    flatten: bool,
    neutralize: bool = True,
    cancel: threading.Event | None = None,
) -> int:
    """Write the events of ``batches`` as CSV to ``stream``; return the rows written.

    Raises:
        ReadCancelled: ``cancel`` was set (checked between spooled batches).
    """
    columns: set[str] = set()
    count = 0
    with tempfile.TemporaryFile() as spool:
        for batch in batches:
            rows = [csv_row(event, flatten, neutralize) for event in batch]
            for row in rows:
                columns.update(row)
            encoded = _spool_encoder.encode(rows)
            spool.write(len(encoded).to_bytes(8, "little"))
            spool.write(encoded)
            count += len(rows)
        header = sorted(columns)
        spool.seek(0)
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        for rows in _spooled(spool):
            check(cancel)
            writer.writerows([row.get(column, "") for column in header] for row in rows)
        text.flush()
        text.detach()
    return count


def _spooled(spool: BinaryIO) -> Iterator[list[dict[str, str]]]:
    while True:
        size = spool.read(8)
        if not size:
            return
        yield _spool_decoder.decode(spool.read(int.from_bytes(size, "little")))
