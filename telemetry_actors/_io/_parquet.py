"""Events as typed Arrow columns: a Parquet file, or a pandas ``DataFrame``.

The ``parquet`` extra (pyarrow, pandas) is imported only when one of these
runs, so the core package never needs it. The columns are those of the CSV
export's base columns, typed, plus ``tags``, ``sampling_weight``,
``metadata`` and ``measurements``:

- ``timestamp``: UTC timestamp in µs; ``datetime``: the same instant as ISO
  8601 text, as in the CSV (null outside the years 1 to 9999);
- ``latency_ms``, ``cost_usd``, ``sampling_weight``: float64 (null when the
  event has none); ``success``: bool with nulls;
- ``event_name``: dotted text; ``tags``: list of text;
- ``model``, ``provider``, ``sample_id``, ``session_id``, ``cohort`` and the
  ids and names: text, the ``str()`` of values that are not text;
- ``metadata``, ``measurements``: JSON text, where every value JSON cannot
  hold (NaN, your objects, lone surrogates) is its ``str()`` (see ``_plain``).

Columns are built a batch (``_export.BATCH`` events) at a time; the Parquet
writer writes each batch as one row group, so a file never needs more than
one batch of events in memory.
"""

from __future__ import annotations

import functools
import numbers
import threading
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import msgspec

from .._event import Event
from .._experiment import datetime_from_us
from .._names import dotted
from .._storage._snapshot import Snapshot
from ._batches import RowBatch
from ._plain import plain_fields, safe_str, utf8_text

#: The columns, in file order.
COLUMNS = (
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
    "tags",
    "sampling_weight",
    "metadata",
    "measurements",
)

_MISSING_EXTRA = (
    "Parquet export and to_pandas need pyarrow and pandas, the 'parquet' extra: "
    "pip install 'telemetry-actors[parquet]'"
)

_encode_json = msgspec.json.Encoder().encode


def arrow() -> Any:
    """The ``pyarrow`` module (with ``pyarrow.parquet`` loaded).

    Raises:
        ImportError: pyarrow is not installed; the message names the extra.
    """
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError as error:
        raise ImportError(_MISSING_EXTRA) from error
    return pyarrow


@functools.cache
def schema(pa: Any) -> Any:
    """The Arrow schema of an events table (cached per pyarrow module)."""
    text = pa.string()
    types = dict.fromkeys(COLUMNS, text)
    types.update(
        timestamp=pa.timestamp("us", tz="UTC"),
        latency_ms=pa.float64(),
        cost_usd=pa.float64(),
        success=pa.bool_(),
        tags=pa.list_(text),
        sampling_weight=pa.float64(),
    )
    return pa.schema([(name, types[name]) for name in COLUMNS])


def _text(value: Any) -> str | None:
    """Text of a value (None stays None), writable as UTF-8."""
    if value is None:
        return None
    if type(value) is str:
        return utf8_text(value)
    return safe_str(value)


def _number(value: Any) -> float | None:
    """A float64 cell: numbers as floats, anything else (bools included) null."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except (OverflowError, ValueError, TypeError):  # an int beyond float, a hostile type
            return None
    return None


def _iso(timestamp: int) -> str | None:
    try:
        return datetime_from_us(timestamp).isoformat(timespec="microseconds")
    except (OverflowError, ValueError):  # outside the years 1 to 9999
        return None


def _json(fields: dict[str, Any], plain_json: bool) -> str:
    """``fields`` as JSON text; values JSON cannot hold become their ``str()``."""
    if plain_json:
        try:
            return _encode_json(fields).decode()
        except Exception:  # a lone surrogate: take the careful path
            pass
    return _encode_json(plain_fields(fields)).decode()


def events_table(events: Sequence[Event], plain: Sequence[bool]) -> Any:
    """One Arrow table of ``events``; ``plain[i]``: event i's fields are plain JSON.

    O(len(events)) Python work per column. Never fails on a value's type.
    """
    pa = arrow()
    pairs = list(zip(events, plain, strict=True))
    columns: dict[str, list[Any]] = {
        "event_id": [_text(event.event_id) for event in events],
        "experiment_id": [_text(event.experiment_id) for event in events],
        "experiment_name": [_text(event.experiment_name) for event in events],
        "condition": [_text(event.condition) for event in events],
        "timestamp": [event.timestamp for event in events],
        "datetime": [_iso(event.timestamp) for event in events],
        "event_name": [utf8_text(dotted(event.event_name)) for event in events],
        "latency_ms": [_number(event.latency_ms) for event in events],
        "cost_usd": [_number(event.cost_usd) for event in events],
        "success": [event.success if type(event.success) is bool else None for event in events],
        "model": [_text(event.model) for event in events],
        "provider": [_text(event.provider) for event in events],
        "sample_id": [_text(event.sample_id) for event in events],
        "session_id": [_text(event.session_id) for event in events],
        "cohort": [_text(event.cohort) for event in events],
        "tags": [[_text(tag) for tag in event.tags] for event in events],
        "sampling_weight": [_number(event.sampling_weight) for event in events],
        "metadata": [_json(event.metadata, fast) for event, fast in pairs],
        "measurements": [_json(event.measurements, fast) for event, fast in pairs],
    }
    return pa.Table.from_pydict(columns, schema=schema(pa))


def write_parquet(batches: Iterable[RowBatch], stream: BinaryIO) -> int:
    """Write the events of ``batches`` as one Parquet file; return the rows written.

    Each batch becomes one row group, written as it comes: memory holds one
    batch at a time. O(events).

    Raises:
        ImportError: pyarrow is not installed (the message names the extra).
    """
    pa = arrow()
    count = 0
    with pa.parquet.ParquetWriter(stream, schema(pa)) as writer:
        for batch in batches:
            writer.write_table(events_table(batch.events(), batch.plain_json()))
            count += len(batch)
    return count


def events_frame(snapshots: Sequence[Snapshot], *, cancel: threading.Event | None = None) -> Any:
    """The events of ``snapshots`` as a pandas ``DataFrame`` of :data:`COLUMNS`.

    Built through Arrow (the same columns as :func:`write_parquet`), in a
    worker thread: O(events). ``success`` is pandas' nullable ``boolean``.

    Raises:
        ImportError: pyarrow or pandas is not installed (the message names the extra).
    """
    pa = arrow()
    try:
        import pandas  # type: ignore[import-untyped]
    except ImportError as error:
        raise ImportError(_MISSING_EXTRA) from error
    from ._export import event_batches

    tables = [
        events_table(batch.events(), batch.plain_json())
        for batch in event_batches(snapshots, cancel)
    ]
    table = pa.concat_tables(tables) if tables else schema(pa).empty_table()
    nullable = {pa.bool_(): pandas.BooleanDtype()}
    return table.to_pandas(types_mapper=nullable.get)
