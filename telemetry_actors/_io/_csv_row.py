"""One Event as CSV cells: the general path, for rows the columnar path refuses.

Every value goes through :func:`~._plain.plain`, so any stored value can be
written (see ``_plain``); about 30 µs per event. The columnar writer
(``_csv_cells``) sends here the rows it cannot prove it writes identically:
rows kept as objects or inserted whole, and values of other types, nested
too deep, or whose flattened column names collide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .._event import Event
from .._experiment import datetime_from_us
from .._names import dotted
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


def cell(value: Any) -> str:
    """A scalar's cell: None empty, booleans ``true``/``false``, else its text."""
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
        row[prefix] = ",".join(cell(item) for item in value)
    else:
        row[prefix] = cell(value)
        if type(value) is int or type(value) is float:
            numeric.add(prefix)


def datetime_cell(timestamp: int) -> str:
    """ISO 8601 UTC with microseconds, or empty outside the years 1 to 9999."""
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
        "event_id": cell(event.event_id),
        "experiment_id": cell(event.experiment_id),
        "experiment_name": cell(event.experiment_name),
        "condition": cell(event.condition),
        "timestamp": str(event.timestamp),
        "datetime": datetime_cell(event.timestamp),
        "event_name": cell(dotted(event.event_name)),
        "success": cell(event.success),
        "sampling_weight": cell(event.sampling_weight),
        "tags": ",".join(cell(tag) for tag in event.tags),
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
        for column, text in row.items():
            if text.startswith(FORMULA_TRIGGERS) and column not in numeric:
                row[column] = "'" + text
    return row
