"""The value of one field for each selected row: for breakdowns and pairing keys.

Columns answer ``event_name``, ``success``, ``model`` and the experiment's
own fields at numpy speed; any other field or metadata key is read from
the rows' events, in batches, in the worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

import numpy as np
import numpy.typing as npt

from .._event import EVENT_FIELDS
from .._names import dotted
from ._block import KIND_INSERTED, KIND_MASK
from ._codes import UNCODED
from ._filters import BATCH_ROWS, check
from ._snapshot import Merged

_OUTCOMES: dict[int, bool | None] = {-1: None, 0: False, 1: True}


def field_values(
    merged: Merged,
    positions: npt.NDArray[np.int64] | None,
    field: str,
    cancel: threading.Event | None = None,
) -> list[Any]:
    """The value of ``field`` (an Event field, else a metadata key) for each selected row.

    O(k) from columns for ``event_name``/``success``/``model``, O(k) event
    reads otherwise; rows without the field give None.
    """
    rows = np.arange(merged.size) if positions is None else positions
    snapshot = merged.snapshot
    kind = merged.column("kind")[rows] & KIND_MASK
    inserted = kind == KIND_INSERTED
    if field == "event_name" and not bool(inserted.any()):
        names = [dotted(name) for name in snapshot.names]
        return [names[code] for code in merged.column("names")[rows].tolist()]
    if field == "success":
        return [_OUTCOMES[code] for code in merged.column("success")[rows].tolist()]
    if field in ("model", "provider"):
        codes = merged.column(field)[rows]
        if not bool((codes == UNCODED).any()) and not bool(inserted.any()):
            table = snapshot.models if field == "model" else snapshot.providers
            return [None if code < 0 else table[code] for code in codes.tolist()]
    if field in ("experiment_id", "experiment_name", "condition", "tags") and not bool(
        inserted.any()
    ):
        return [getattr(snapshot.context, field)] * len(rows)
    values: list[Any] = []
    for begin in range(0, len(rows), BATCH_ROWS):
        check(cancel)
        for event in merged.events(rows[begin : begin + BATCH_ROWS]):
            if field == "event_name":
                values.append(dotted(event.event_name))
            elif field in EVENT_FIELDS:
                values.append(getattr(event, field))
            else:
                metadata = event.metadata
                values.append(metadata.get(field) if isinstance(metadata, dict) else None)
    return values


def _group_key(value: Any) -> Hashable:
    """``value`` as a dict key: unhashable values are grouped by their repr."""
    try:
        hash(value)
    except Exception:
        return repr(value)
    return value  # type: ignore[no-any-return]


def group_positions(
    merged: Merged,
    positions: npt.NDArray[np.int64] | None,
    by: str,
    cancel: threading.Event | None = None,
) -> dict[Any, npt.NDArray[np.int64]]:
    """Positions of the selected rows grouped by their value of ``by``, in first-seen order."""
    rows = np.arange(merged.size, dtype=np.int64) if positions is None else positions
    groups: dict[Any, list[int]] = {}
    for row, value in zip(rows.tolist(), field_values(merged, positions, by, cancel), strict=True):
        groups.setdefault(_group_key(value), []).append(row)
    return {key: np.asarray(members, dtype=np.int64) for key, members in groups.items()}


def pairing_keys(
    merged: Merged,
    positions: npt.NDArray[np.int64] | None,
    paired_by: str | None,
    cancel: threading.Event | None = None,
) -> list[Any] | None:
    """Each selected row's pairing key (None without one), or None when not paired."""
    if paired_by is None:
        return None
    return [
        _group_key(value) if value is not None else None
        for value in field_values(merged, positions, paired_by, cancel)
    ]


def event_ids(merged: Merged, positions: npt.NDArray[np.int64]) -> list[str]:
    """The event id of each row at ``positions``. O(k), events built only for inserted rows."""
    snapshot = merged.snapshot
    prefixes = snapshot.prefixes
    serials = merged.column("serial")[positions].tolist()
    codes = merged.column("prefix")[positions].tolist()
    ids = [
        prefixes[code] + hex(serial) if serial >= 0 else ""
        for code, serial in zip(codes, serials, strict=True)
    ]
    missing = [index for index, serial in enumerate(serials) if serial < 0]
    if missing:
        for index, event in zip(missing, merged.events(positions[missing]), strict=True):
            ids[index] = event.event_id
    return ids
