"""A batch of rows as JSON Lines: one object per event, every Event field.

A row whose fields are plain JSON (``RowBatch.plain_json``) becomes its
Event straight from the batch's columns (taken as lists at C speed) and its
decoded payload, with no copies, and each chunk of rows is encoded by one
``encode_lines`` call: about 2.5 µs per event, writing included. Other rows
are built by the snapshot (``Merged.events``) and written through
:func:`~._records.event_record`, which turns what JSON cannot hold into
text, as before. The bytes are those of encoding each Event on its own.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from .._event import Event
from .._storage._materialize import _copied
from ._batches import RowBatch
from ._payloads import decoded_fields
from ._records import encode_json, event_record

_encode_lines = msgspec.json.Encoder().encode_lines
#: Rows built and encoded at a time.
CHUNK = 1024
_OUTCOMES = (None, False, True)  # success codes -1, 0, 1
_NO_COPIES = (None,) * 6
_COLUMNS = (
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


def _optional(values: np.ndarray[Any, Any]) -> list[float | None]:
    """A float column as a list, None where NaN (no value)."""
    floats: list[float | None] = values.tolist()
    for index in np.flatnonzero(np.isnan(values)).tolist():
        floats[index] = None
    return floats


def _line_objects(
    batch: RowBatch, columns: dict[str, np.ndarray[Any, Any]], flags: list[bool]
) -> list[Any]:
    """Per row: its Event (plain-JSON rows) or its JSON-ready record (the others)."""
    fields, _ = decoded_fields(batch, columns)
    snapshot = batch.snapshot
    context, names, prefixes = snapshot.context, snapshot.names, snapshot.prefixes
    experiment_id, experiment_name = context.experiment_id, context.experiment_name
    condition, tags = context.condition, context.tags
    override = snapshot.weight_override
    weights = [override] * len(batch) if override is not None else columns["weight"].tolist()
    objects: list[Any] = []
    append = objects.append
    slow: list[int] = []
    for index, (
        fast,
        pair,
        prefix,
        serial,
        stamp,
        name,
        latency,
        cost,
        outcome,
        weight,
    ) in enumerate(
        zip(
            flags,
            fields,
            columns["prefix"].tolist(),
            columns["serial"].tolist(),
            columns["timestamps"].tolist(),
            columns["names"].tolist(),
            _optional(columns["latency"]),
            _optional(columns["cost"]),
            (columns["success"].astype(np.int64) + 1).tolist(),
            weights,
            strict=True,
        )
    ):
        if not fast:
            slow.append(index)
            append(None)
            continue
        measurements, metadata = pair
        if measurements is None:
            measurements = {}
        if metadata is None:
            metadata = {}
        session_id, user_id, sample_id, cohort, model, provider = (
            _copied(metadata) if type(metadata) is dict else _NO_COPIES
        )
        append(
            Event(
                prefixes[prefix] + hex(serial) if serial >= 0 else "",
                names[name],
                stamp,
                experiment_id,
                experiment_name,
                condition,
                tags,
                measurements,
                metadata,
                latency,
                cost,
                _OUTCOMES[outcome],
                session_id,
                user_id,
                sample_id,
                cohort,
                model,
                provider,
                weight,
            )
        )
    if slow:
        for index, event in zip(slow, batch.events(np.asarray(slow, dtype=np.int64)), strict=True):
            objects[index] = event_record(event)
    return objects


def jsonl_lines(batch: RowBatch) -> bytes:
    """The batch's events as JSON Lines (each line ends with ``\\n``). O(rows).

    Built and encoded :data:`CHUNK` rows at a time: few decoded dicts are
    alive at once (the garbage collector's young collections scan them), and
    no single encoding call holds the GIL for long.
    """
    columns = batch.columns(*_COLUMNS)
    flags = batch.plain_json(columns)
    pieces = []
    for first in range(0, len(batch), CHUNK):
        part = {name: values[first : first + CHUNK] for name, values in columns.items()}
        objects = _line_objects(
            batch.part(first, first + CHUNK), part, flags[first : first + CHUNK]
        )
        pieces.append(_encoded(objects))
    return b"".join(pieces)


def _encoded(objects: list[Any]) -> bytes:
    """``objects`` as JSON Lines; an Event JSON cannot take as it is goes as its record."""
    try:
        return _encode_lines(objects)
    except Exception:  # a key or value JSON cannot take: find it object by object
        pass
    lines = []
    for item in objects:
        if type(item) is Event:
            try:
                lines.append(encode_json(item))
                continue
            except Exception:  # a lone surrogate, a key JSON cannot take
                item = event_record(item)
        lines.append(encode_json(item))
    return b"\n".join(lines) + b"\n" if lines else b""
