"""Writing events as CSV (RFC 4180) or JSON Lines."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from ._event import COPIED_FIELDS, Event
from ._experiment import datetime_from_us
from ._names import dotted
from ._plain import plain, plain_fields, safe_str

Format = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "jsonl")

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

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def check_format(format: str) -> Format:
    """Validate an export format name.

    Raises:
        ValueError: not ``"csv"`` or ``"jsonl"``.
    """
    if format == "csv":
        return "csv"
    if format == "jsonl":
        return "jsonl"
    raise ValueError(f"unknown export format {format!r}; use 'csv' or 'jsonl'")


#: File systems cap a name at 255 bytes; leave room for the time stamp and suffix.
MAX_STEM_LENGTH = 120


def safe_file_stem(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` (and shortened) so it cannot leave its folder."""
    stem = _UNSAFE_NAME_CHARS.sub("_", name).strip(".")[:MAX_STEM_LENGTH]
    return stem or "experiment"


def default_path(export_dir: Path, name: str, unix_seconds: int, extension: str) -> Path:
    """``<export_dir>/<safe name>_<unix seconds>.<ext>``, suffixed ``_2``… if taken."""
    stem = f"{safe_file_stem(name)}_{unix_seconds}"
    path = export_dir / f"{stem}.{extension}"
    counter = 2
    while path.exists():
        path = export_dir / f"{stem}_{counter}.{extension}"
        counter += 1
    return path


#: A text cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    return safe_str(value)


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _flatten(prefix: str, value: Any, row: dict[str, str], numeric: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}_{safe_str(key)}", item, row, numeric)
    elif isinstance(value, list):
        row[prefix] = ",".join(_cell(item) for item in value)
    else:
        row[prefix] = _cell(value)
        if _is_number(value):
            numeric.add(prefix)


def neutralized(row: dict[str, str], numeric: set[str]) -> dict[str, str]:
    """Quote text cells that a spreadsheet would run as formulas (``=1+1`` -> ``'=1+1``).

    Cells written from numbers are left alone: ``-5.0`` stays a number.
    """
    for column, cell in row.items():
        if cell.startswith(FORMULA_TRIGGERS) and column not in numeric:
            row[column] = "'" + cell
    return row


def csv_row(event: Event, flatten: bool, neutralize: bool = True) -> dict[str, str]:
    """One event as CSV cells keyed by column name.

    With ``neutralize`` (the default), text cells that begin with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return get a leading ``'`` so that the file
    cannot run formulas when opened in a spreadsheet.
    """
    numeric = {"timestamp"}
    row = {
        "event_id": event.event_id,
        "experiment_id": event.experiment_id,
        "experiment_name": event.experiment_name,
        "condition": event.condition,
        "timestamp": str(event.timestamp),
        "datetime": datetime_from_us(event.timestamp).isoformat(timespec="microseconds"),
        "event_name": dotted(event.event_name),
        "success": _cell(event.success),
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
    return neutralized(row, numeric) if neutralize else row


def write_csv(events: Sequence[Event], path: Path, flatten: bool, neutralize: bool = True) -> None:
    """Write ``events`` as RFC 4180 CSV; the header is the sorted union of all columns."""
    rows = [csv_row(event, flatten, neutralize) for event in events]
    columns = sorted({column for row in rows for column in row})
    # backslashreplace: a lone surrogate in a str is written escaped, never an error.
    with path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, restval="", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def event_record(event: Event) -> dict[str, Any]:
    """Every field of an event as JSON-ready builtins (``event_name`` as a list)."""
    record: dict[str, Any] = msgspec.structs.asdict(event)
    record["event_name"] = list(event.event_name)
    record["tags"] = list(event.tags)
    record["measurements"] = plain_fields(event.measurements)
    record["metadata"] = plain_fields(event.metadata)
    for key in COPIED_FIELDS:
        record[key] = plain(record[key])
    return record


_encoder = msgspec.json.Encoder()


def jsonl_lines(records: Iterable[Any]) -> bytes:
    """JSON Lines for ``records``."""
    return _encoder.encode_lines(list(records))


def write_jsonl(events: Sequence[Event], path: Path) -> None:
    """Write one JSON object per event per line."""
    path.write_bytes(jsonl_lines(event_record(event) for event in events))


def write_events(
    events: Sequence[Event], path: Path, format: Format, flatten: bool, neutralize: bool = True
) -> Path:
    """Write ``events`` to ``path`` in ``format``, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        write_csv(events, path, flatten, neutralize)
    else:
        write_jsonl(events, path)
    return path
