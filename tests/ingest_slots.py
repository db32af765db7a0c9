"""Mailbox slots and experiment states for testing ingest without a runtime."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

from telemetry_actors._actors._state import ExperimentState
from telemetry_actors._emit._emit import capture
from telemetry_actors._experiment import Experiment, ExperimentStatus
from telemetry_actors._pricing import merge_pricing

PRICING = merge_pricing({"priced": (0.5, 1.5)})
NAMES = (("req_llm", "request", "stop"), ("agent", "step"))


class IngestMailbox:
    """What ingest uses of a mailbox (a real one needs a running event loop)."""

    def __init__(self) -> None:
        self.queue: deque[Any] = deque()
        self.dropped = 0

    def count_drops(self, n: int) -> None:
        self.dropped += n


def ingest_state() -> ExperimentState:
    record = Experiment(
        id="e1",
        name="bulk",
        status=ExperimentStatus.RUNNING,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return ExperimentState(
        record=record,
        patterns=(),
        mailbox=IngestMailbox(),  # type: ignore[arg-type]
        pricing=PRICING,
        emit_clock=lambda: 0,
        nanosecond_stamps=False,
    )


def mailbox_slots(events: list[tuple[Any, Any, Any, Any]]) -> list[Any]:
    """Mailbox slots for (name, measurements, metadata, stamp), as ``emit`` queues them."""
    slots: list[Any] = []
    for name, measurements, metadata, stamp in events:
        fields = capture(measurements, metadata)
        if type(fields) is bytes:
            slots += [name, fields, measurements, metadata, stamp]
        else:
            slots += [name, fields, None, None, stamp]
    return slots


def llm_call(i: int) -> tuple[Any, Any, Any, Any]:
    return (
        NAMES[i % 2],
        {"duration": 1_000_000 + i * 7919, "status": "error" if i % 7 == 0 else "ok"},
        {
            "model": ("gpt-4", "priced", "claude-3-sonnet")[i % 3],
            "provider": "openai",
            "tokens": {"prompt": 100 + i, "completion": 20 + i},
            "sample_id": f"s{i}",
        },
        1_000 + (i * 37) % 101,  # out of time order within the run
    )
