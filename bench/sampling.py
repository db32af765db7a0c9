"""Cost of the per-event sampling decision (ns/event), next to a bare loop over the same events.

Each case runs over ``config.ingest_n`` prebuilt ``(serial, success, flagged)``
events (about 2 % failures and 5 % flagged, as an actor sees them after
enrichment), with a fresh sampler per repetition (made untimed), so every
repetition takes the same decisions. Per-event cases call ``decide`` as the
actor's ingest loop would (bound once); batch cases call ``decide_batch`` once
on prebuilt columns. The loop overhead is included alike in every per-event
case; the bare loop and the empty call show how much of it is the loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from telemetry_actors._stats._sampling import (
    Adaptive,
    Reservoir,
    SamplingSpec,
    Stratified,
    Uniform,
    make_sampler,
)

from ._timing import Case, Config, Measurement, per_call, run_cases

Event = tuple[int, bool, bool]

SPECS: tuple[tuple[str, str, SamplingSpec], ...] = (
    ("uniform", "Uniform(0.1)", Uniform(0.1, seed=1)),
    ("stratified", "Stratified({False: 1.0, True: 0.1})", Stratified({False: 1.0, True: 0.1})),
    ("adaptive", "Adaptive(0.1), 5 % flagged", Adaptive(0.1, seed=1)),
    ("reservoir", "Reservoir(1000)", Reservoir(1_000, seed=1)),
)


def events_of(n: int) -> list[Event]:
    """``n`` events: serials, about 2 % failures, flags on in runs (5 % of events)."""
    return [(i, i % 50 != 0, i % 2_000 < 100) for i in range(n)]


def bare_loop(events: list[Event]) -> Callable[[], None]:
    """The floor: the loop unpacking each event, deciding nothing."""

    def timed() -> None:
        for _serial, _success, _flagged in events:
            pass

    return timed


def empty_call(events: list[Event]) -> Callable[[], None]:
    """The loop plus a Python call with ``decide``'s arguments that does nothing."""

    def nothing(handle: int, key: object = None, flagged: bool = False) -> float:
        return 1.0

    def timed() -> None:
        for serial, success, flagged in events:
            nothing(serial, success, flagged)

    return timed


def inline_rate(events: list[Event]) -> Callable[[], None]:
    """What the actor does today for ``sampling_rate``, inlined in its loop."""

    def timed() -> None:
        rate, draw = 0.1, random.Random(1).random
        for _serial, _success, _flagged in events:
            if rate < 1.0 and draw() >= rate:
                continue

    return timed


def per_event(spec: SamplingSpec, events: list[Event]) -> tuple[Callable[[], None], Any]:
    """(timed, setup): ``decide`` per event on a sampler made fresh by ``setup``."""
    state: dict[str, Any] = {}

    def setup() -> None:
        state["sampler"] = make_sampler(spec)

    def timed() -> None:
        sampler = state["sampler"]
        decide = sampler.decide
        for serial, success, flagged in events:
            decide(serial, success, flagged)
        sampler.take_evicted()

    return timed, setup


def batch(spec: SamplingSpec, events: list[Event]) -> tuple[Callable[[], None], Any]:
    """(timed, setup): one ``decide_batch`` over columns of the events."""
    handles = np.array([serial for serial, _, _ in events], dtype=np.int64)
    keys = np.array([success for _, success, _ in events], dtype=bool)
    flags = np.array([flagged for _, _, flagged in events], dtype=bool)
    state: dict[str, Any] = {}

    def setup() -> None:
        state["sampler"] = make_sampler(spec)

    def timed() -> None:
        sampler = state["sampler"]
        sampler.decide_batch(handles, keys, flags)
        sampler.take_evicted()

    return timed, setup


async def run(config: Config) -> list[Measurement]:
    """ns per event of each strategy's decision, per event and per batch."""
    n = config.ingest_n
    events = events_of(n)
    scale = per_call(n)
    cases = [
        Case(
            "sampling.loop", f"bare loop over {n:,} events", "ns/event", bare_loop(events), scale
        ),
        Case("sampling.call", "loop + empty call", "ns/event", empty_call(events), scale),
        Case(
            "sampling.inline",
            "today's inline sampling_rate rule (0.1)",
            "ns/event",
            inline_rate(events),
            scale,
        ),
    ]
    for key, label, spec in SPECS:
        timed, setup = per_event(spec, events)
        cases.append(
            Case(f"sampling.{key}", f"{label}.decide per event", "ns/event", timed, scale, setup)
        )
        timed, setup = batch(spec, events)
        cases.append(
            Case(
                f"sampling.{key}_batch",
                f"{label}.decide_batch, one batch",
                "ns/event",
                timed,
                scale,
                setup,
            )
        )
    return await run_cases(cases, config.reps)
