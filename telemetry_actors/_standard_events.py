"""The event names an experiment collects unless told otherwise."""

from __future__ import annotations

from ._types import EventName

STANDARD_EVENTS: tuple[EventName, ...] = (
    ("req_llm", "request", "start"),
    ("req_llm", "request", "stop"),
    ("req_llm", "request", "exception"),
    ("ensemble", "prediction", "start"),
    ("ensemble", "prediction", "stop"),
    ("ensemble", "vote", "completed"),
    ("hedging", "request", "start"),
    ("hedging", "request", "duplicated"),
    ("hedging", "request", "stop"),
    ("causal_trace", "event", "created"),
    ("altar", "tool", "start"),
    ("altar", "tool", "stop"),
)
