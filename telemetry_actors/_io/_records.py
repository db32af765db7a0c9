"""Events and experiments as JSON-ready records, and their JSON Lines encoding.

An event whose fields are plain JSON (the common case: they arrived as
MessagePack maps of str, int, float, bool and None) is encoded straight from
the :class:`Event` by msgspec. Anything else goes through :func:`plain`,
which writes what JSON cannot represent as its ``str()``: NaN and
infinities, bytes, sets, your own objects, non-str keys, lone surrogates.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._event import COPIED_FIELDS, Event
from .._experiment import Experiment
from ._plain import plain, plain_fields, utf8_text

_encoder = msgspec.json.Encoder()
encode_json = _encoder.encode


def event_record(event: Event) -> dict[str, Any]:
    """Every field of an event as JSON-ready builtins (``event_name`` as a list)."""
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


def experiment_record(experiment: Experiment) -> dict[str, Any]:
    """The experiment as JSON-ready builtins."""
    record: dict[str, Any] = msgspec.to_builtins(experiment)
    for key in ("id", "name", "hypothesis", "condition"):
        record[key] = plain(record[key])
    record["tags"] = [plain(tag) for tag in experiment.tags]
    record["metadata"] = plain_fields(experiment.metadata)
    record["metrics_config"] = plain_fields(experiment.metrics_config)
    return record


def event_json(event: Event, fast: bool) -> bytes:
    """One event as a JSON object (no newline). ``fast``: its fields are plain JSON."""
    if fast:
        try:
            return encode_json(event)
        except Exception:  # a lone surrogate, a key JSON cannot take
            pass
    return encode_json(event_record(event))


def text(value: str) -> str:
    """``value`` writable as UTF-8 (lone surrogates escaped)."""
    return utf8_text(value)
