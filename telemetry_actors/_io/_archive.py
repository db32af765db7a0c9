"""Archives: an experiment and its events as JSON Lines, and loading them back.

Line 1 is ``{"type": "experiment_metadata", "data": {...}}``; every further line
is ``{"type": "event", "data": {...}}``. Loading validates the whole file
before anything is registered, so a bad file loads nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from .._arguments import storable_event
from .._event import Event
from .._experiment import Experiment
from .._handoff import hand_over_gil
from .._storage._snapshot import Snapshot
from ._export import event_batches
from ._paths import writing
from ._records import encode_json, event_json, experiment_record

_EVENT_LINE = (b'{"type":"event","data":', b"}")


class _MetadataLine(msgspec.Struct, tag_field="type", tag="experiment_metadata"):
    data: Experiment


class _EventLine(msgspec.Struct, tag_field="type", tag="event"):
    data: Event


# Decoding into the union makes the "type" tag required (a lone tagged struct
# would accept a line without it); the caller then checks which line came back.
_line_decoder = msgspec.json.Decoder(_MetadataLine | _EventLine)
#: Lines parsed between two hand-overs of the GIL to the event loop (about 0.5 ms).
HAND_OVER_LINES = 256

T = TypeVar("T")


def write_archive(
    experiment: Experiment,
    snapshot: Snapshot,
    path: Path,
    reserved: bool,
    *,
    cancel: threading.Event | None = None,
) -> Path:
    """Write the archive file in ``get_all`` order; return its path."""
    head: dict[str, Any] = {"type": "experiment_metadata", "data": experiment_record(experiment)}
    opening, closing = _EVENT_LINE
    with writing(path, reserved) as stream:
        stream.write(encode_json(head) + b"\n")
        for events, plain in event_batches([snapshot], cancel):
            stream.write(
                b"".join(
                    opening + event_json(event, fast) + closing + b"\n"
                    for event, fast in zip(events, plain, strict=True)
                )
            )
    return path


def read_archive(
    path: Path,
    prepare: Callable[[list[Event]], T],
    *,
    size: int = 10_000,
    cancel: threading.Event | None = None,
) -> tuple[Experiment, list[T]]:
    """Parse and validate a whole archive file, handing its events to ``prepare``
    ``size`` at a time; the experiment and what ``prepare`` made of each batch.

    Only one batch of Events exists at a time, so ``prepare`` can turn them
    into something compact (rows to insert) and a million never pile up.

    Raises:
        ValueError: the file is not a well-formed archive; the message names
            ``line N`` for the first bad line.
        OSError: the file cannot be read.
    """
    prepared: list[T] = []
    # Line by line: splitting the whole file at once would hold the GIL (and
    # so the host's event loop) for half a second per million lines.
    with path.open("rb") as file:
        first = file.readline()
        if not first:
            raise ValueError(f"{path}: line 1: empty file, expected an experiment_metadata line")
        experiment = _decode(path, 1, first, _MetadataLine).data
        events: list[Event] = []
        for number, line in enumerate(file, start=2):
            if not number % HAND_OVER_LINES:
                hand_over_gil()
            if cancel is not None and not number % 10_000 and cancel.is_set():
                from .._storage._filters import ReadCancelled

                raise ReadCancelled
            event = _decode(path, number, line, _EventLine).data
            try:
                storable_event(event)  # as insert checks: int64 time stamp, valid name
            except ValueError as error:
                raise ValueError(f"{path}: line {number}: {error}") from None
            if event.experiment_id != experiment.id:
                raise ValueError(
                    f"{path}: line {number}: event belongs to experiment "
                    f"{event.experiment_id!r}, not {experiment.id!r}"
                )
            events.append(event)
            if len(events) == size:
                prepared.append(prepare(events))
                events = []
        if events:
            prepared.append(prepare(events))
    return experiment, prepared


def _decode(path: Path, number: int, line: bytes, expected: type[Any]) -> Any:
    kind = "experiment_metadata" if expected is _MetadataLine else "event"
    try:
        decoded = _line_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: line {number}: not a valid {kind} line: {error}") from None
    if not isinstance(decoded, expected):
        raise ValueError(f"{path}: line {number}: expected a {kind!r} line")
    return decoded
