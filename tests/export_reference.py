"""The CSV and JSON Lines exports as they were before the columnar rewrite.

A verbatim copy of the per-Event implementation (``_csv``, ``_plain``,
``_records`` and ``_export`` as of commit 6ea08c1), kept as the reference the
fast exports must match byte for byte: ``write_events_reference`` has the
signature of ``telemetry_actors._io._export.write_events`` and can stand in
for it (``monkeypatch`` of ``telemetry_actors._runtime_files.write_events``).
It reads snapshots only through ``Merged.events`` (Event objects, as every
read builds them) and the rows' storage kinds.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import numpy as np

from telemetry_actors._event import COPIED_FIELDS, Event
from telemetry_actors._experiment import datetime_from_us
from telemetry_actors._io._paths import writing
from telemetry_actors._names import dotted
from telemetry_actors._storage._block import KIND_MASK, KIND_MSGPACK
from telemetry_actors._storage._filters import check
from telemetry_actors._storage._snapshot import Merged, Snapshot

# ------------------------------------------------------------------ _plain

MAX_DEPTH = 64
_MAX_INT_BITS = 14_000


def safe_str(value: object) -> str:
    try:
        text = str(value)
    except Exception:
        if isinstance(value, int):
            return f"<int of {value.bit_length()} bits>"
        return f"<unprintable {type(value).__name__}>"
    return utf8_text(text)


def utf8_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def plain(
    value: Any,
    depth: int = 0,
    seen: frozenset[int] = frozenset(),
    keep_non_finite: bool = False,
) -> Any:
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        return utf8_text(value)
    if kind is int:
        return value if value.bit_length() <= _MAX_INT_BITS else safe_str(value)
    if kind is float:
        return value if keep_non_finite or math.isfinite(value) else safe_str(value)
    if kind is dict or kind is list or kind is tuple:
        if depth >= MAX_DEPTH or id(value) in seen:
            return safe_str(value)
        inner = seen | {id(value)}
        if kind is dict:
            return {
                (utf8_text(key) if type(key) is str else safe_str(key)): plain(
                    item, depth + 1, inner, keep_non_finite
                )
                for key, item in value.items()
            }
        return [plain(item, depth + 1, inner, keep_non_finite) for item in value]
    return safe_str(value)


def plain_fields(fields: dict[str, Any], keep_non_finite: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = plain(fields, keep_non_finite=keep_non_finite)
    return result


# ------------------------------------------------------------------ _csv

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
    except OverflowError:
        return ""


def csv_row(event: Event, flatten: bool, neutralize: bool = True) -> dict[str, str]:
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


# ------------------------------------------------------------------ _records

_encoder = msgspec.json.Encoder()
encode_json = _encoder.encode


def event_record(event: Event) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.structs.asdict(event)
    record["event_id"] = plain(event.event_id)
    record["event_name"] = [plain(part) for part in event.event_name]
    record["experiment_id"] = plain(event.experiment_id)
    record["experiment_name"] = plain(event.experiment_name)
    record["condition"] = plain(event.condition)
    record["tags"] = [plain(tag) for tag in event.tags]
    record["measurements"] = plain_fields(event.measurements)
    record["metadata"] = plain_fields(event.metadata)
    for key in ("latency_ms", "cost_usd", "success", "sampling_weight", *COPIED_FIELDS):
        record[key] = plain(record[key])
    return record


def event_json(event: Event, fast: bool) -> bytes:
    if fast:
        try:
            return encode_json(event)
        except Exception:
            pass
    return encode_json(event_record(event))


# ------------------------------------------------------------------ _snapshot.plain_json

_non_finite_float = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]").search


def plain_json(merged: Merged, positions: np.ndarray[Any, Any]) -> list[bool]:
    part, row = merged.locations()
    part, row = part[positions], row[positions]
    kinds = merged.column("kind")[positions] & KIND_MASK
    flags: list[bool] = []
    for part_index, row_index, kind in zip(
        part.tolist(), row.tolist(), kinds.tolist(), strict=True
    ):
        if kind != KIND_MSGPACK:
            flags.append(False)
            continue
        block = merged._parts[part_index][0]
        start = int(block.starts[row_index])
        end = start + int(block.lengths[row_index])
        flags.append(_non_finite_float(block.blob, start, end) is None)
    return flags


# ------------------------------------------------------------------ _export

BATCH = 10_000


def event_batches(
    snapshots: Sequence[Snapshot], cancel: threading.Event | None
) -> Iterator[tuple[list[Event], list[bool]]]:
    for snapshot in snapshots:
        merged = snapshot.merged()
        for begin in range(0, merged.size, BATCH):
            check(cancel)
            positions = np.arange(begin, min(begin + BATCH, merged.size), dtype=np.int64)
            yield merged.events(positions), plain_json(merged, positions)


def jsonl_lines(events: Sequence[Event], plain: Sequence[bool]) -> bytes:
    if not events:
        return b""
    return b"\n".join(map(event_json, events, plain)) + b"\n"


def write_events_reference(
    snapshots: Sequence[Snapshot],
    path: Path,
    reserved: bool,
    format: str,
    flatten: bool,
    neutralize: bool,
    *,
    cancel: threading.Event | None = None,
) -> Path:
    """The old ``write_events`` for ``"csv"`` and ``"jsonl"``."""
    assert format in ("csv", "jsonl")
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
            for events, flags in event_batches(snapshots, cancel):
                stream.write(jsonl_lines(events, flags))
    return path
