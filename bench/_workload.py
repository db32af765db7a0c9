"""The events every section emits: typical LLM-call telemetry, made fresh per event."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from telemetry_actors import Runtime, emit

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


#: (event name, share of events): half the realistic events are LLM calls, half
#: ensemble predictions, so ``query(event_name=…)`` selects half the store.
REALISTIC_NAMES = (("req_llm", "request", "stop"), ("ensemble", "prediction", "stop"))
#: (model, provider) pairs a realistic run mixes; all priced by the built-in table.
MODELS = (
    ("gpt-4", "openai"),
    ("gpt-4-turbo", "openai"),
    ("claude-3-sonnet", "anthropic"),
    ("gemini-2.0-flash-exp", "google"),
)


class RealisticEvents:
    """Seeded LLM telemetry with random values, made in chunks of fresh dicts.

    Latencies are log-normal (median 800 ms, a long right tail), token counts
    log-normal, about 2 % of calls fail, models and both event names are
    mixed at random: no arithmetic pattern for a sort or a partition to
    exploit, and no sample ids or dicts shared between events.
    """

    def __init__(self, seed: int = 2024) -> None:
        self.rng = np.random.default_rng(seed)
        self.made = 0

    def chunk(self, n: int) -> list[tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]]:
        """The next ``n`` (name, measurements, metadata) argument tuples for :func:`emit`."""
        rng = self.rng
        durations = (rng.lognormal(np.log(800e6), 0.6, n)).astype(np.int64).tolist()
        prompts = rng.lognormal(np.log(600), 0.8, n).astype(np.int64).tolist()
        completions = rng.lognormal(np.log(180), 0.7, n).astype(np.int64).tolist()
        failed = (rng.random(n) < 0.02).tolist()
        names = rng.integers(0, len(REALISTIC_NAMES), n).tolist()
        models = rng.integers(0, len(MODELS), n).tolist()
        events: list[tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]] = []
        for i in range(n):
            model, provider = MODELS[models[i]]
            events.append(
                (
                    REALISTIC_NAMES[names[i]],
                    {"duration": durations[i], "status": "error" if failed[i] else "ok"},
                    {
                        "model": model,
                        "provider": provider,
                        "tokens": {"prompt": prompts[i], "completion": completions[i]},
                        "sample_id": f"gsm8k-{self.made + i:07d}",
                    },
                )
            )
        self.made += n
        return events


class SteppingClock:
    """A fake clock: each call returns the time and then advances it by ``step`` µs."""

    def __init__(self, now: int, step: int) -> None:
        self.now, self.step = now, step

    def __call__(self) -> int:
        now = self.now
        self.now += self.step
        return now


#: 2023-11-14T22:13:20Z in µs: where the fake clocks of the large stores start.
START_US = 1_700_000_000_000_000
#: The fake clock's step while a large store is filled: 1 ms per event.
STEP_US = 1_000


async def fill_store(
    rt: Runtime, clock: SteppingClock, n: int, chunk: int, name: str = "bench-store"
) -> str:
    """Start an experiment and emit ``n`` realistic events into it, 1 ms apart.

    Emitted in chunks of fresh dicts, each chunk flushed; the clock is frozen
    afterwards, so every later "now" is the same instant. Returns the id.
    """
    experiment_id = (await rt.start_experiment(name)).id
    source = RealisticEvents()
    clock.step = STEP_US
    for first in range(0, n, chunk):
        for event_name, measurements, metadata in source.chunk(min(chunk, n - first)):
            emit(event_name, measurements, metadata)
        await rt.flush()
    clock.step = 0
    return experiment_id
