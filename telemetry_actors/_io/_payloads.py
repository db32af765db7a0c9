"""The decoded measurements and metadata of a batch's rows, for writers.

A run of MessagePack rows that lie back to back in their block's blob (the
usual case: rows stored in time order) is decoded in one call, as one array,
which saves a call and a slice per row. Rows kept as objects or inserted
whole get None: writers build their Events instead. Each row's values are
freshly decoded, so writers may read them freely; they never change them.
"""

from __future__ import annotations

import marshal
from typing import Any

import msgspec
import numpy as np

from .._storage._block import KIND_MARSHAL, KIND_MASK, KIND_MSGPACK
from .._storage._fields import BULK_ROWS, decode_run
from ._batches import RowBatch

_decode = msgspec.msgpack.Decoder().decode


def decoded_fields(
    batch: RowBatch, columns: dict[str, np.ndarray[Any, Any]]
) -> tuple[list[Any], list[bool]]:
    """Per row: its ``[measurements, metadata]`` (None for rows kept as objects or
    inserted), and whether they came from marshal (values of any builtin type,
    lone surrogates included; MessagePack gives valid text and 64-bit ints).

    ``columns`` holds the batch's ``kind``, ``starts`` and ``lengths``. O(rows).
    """
    kinds = columns["kind"] & KIND_MASK
    starts, lengths = columns["starts"], columns["lengths"]
    size = len(kinds)
    fields: list[Any] = [None] * size
    done = np.zeros(size, dtype=bool)
    runs = batch.runs()
    for block, first, last, _ in runs:
        if last - first < BULK_ROWS or bool((kinds[first:last] != KIND_MSGPACK).any()):
            continue
        run = decode_run(block.blob, starts[first:last], lengths[first:last])
        if run is not None:  # else not back to back in the blob
            fields[first:last] = run
            done[first:last] = True
    exact = (kinds == KIND_MARSHAL).tolist()
    if bool(done.all()):
        return fields, exact
    owner = np.empty(size, dtype=np.int64)
    views = []
    for number, (block, first, last, _) in enumerate(runs):
        owner[first:last] = number
        views.append(memoryview(block.blob))
    pending = np.flatnonzero(~done)
    for index, kind, start, length, run in zip(
        pending.tolist(),
        kinds[pending].tolist(),
        starts[pending].tolist(),
        lengths[pending].tolist(),
        owner[pending].tolist(),
        strict=True,
    ):
        if kind == KIND_MSGPACK:
            fields[index] = _decode(views[run][start : start + length])
        elif kind == KIND_MARSHAL:
            fields[index] = marshal.loads(views[run][start : start + length])
    return fields, exact
