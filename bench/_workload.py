"""The events every section emits: typical LLM-call telemetry, made fresh per event."""

from __future__ import annotations

import time
from typing import Any

EVENT_NAME = ("req_llm", "request", "stop")


def system_clock() -> int:
    """µs since the epoch, as the runtime's default clock stamps events."""
    return time.time_ns() // 1000


def llm_event(
    i: int, *, status: bool = True
) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]:
    """(name, measurements, metadata) of the ``i``-th LLM call; varied, deterministic.

    With ``status`` about 2 % of calls fail (``status == "error"``), so
    reliability has both kinds; without, measurements are just ``{"duration": ns}``.
    """
    prompt = 100 + i % 900
    completion = 20 + i % 300
    measurements: dict[str, Any] = {"duration": 200_000_000 + (i * 7919) % 1_800_000_000}
    if status:
        measurements["status"] = "error" if i % 50 == 0 else "ok"
    metadata = {
        "model": "gpt-4",
        "provider": "openai",
        "tokens": {"prompt": prompt, "completion": completion},
        "sample_id": f"s{i}",
    }
    return EVENT_NAME, measurements, metadata


def llm_events(n: int) -> list[tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]]:
    """``n`` prebuilt argument tuples for :func:`emit` (shared by package and baseline)."""
    return [llm_event(i) for i in range(n)]
