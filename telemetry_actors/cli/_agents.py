"""Simulated agents of the demo study: LLM calls, hedging, tools and ensembles.

Each agent answers queries one after another, with think time in between.
A query may call a search tool (through :func:`telemetry_actors.span`) and
then asks its condition's models: one model, or three in parallel with a
majority vote. Latencies are lognormal per model; a few calls fail (fast rate
limits, slow time-outs); a call slower than its model's hedge delay gets a
duplicate request, and the first answer wins. A ``slowdown`` stretches the
latencies of a model for a while (the demo's incident, see ``_incident``).

Events, for an agent of condition ``c``:

- ``ab.<c>.request.start`` / ``ab.<c>.request.stop``: one pair per query,
  what the user sees: ``duration`` and ``response`` or ``error``. The A/B
  experiment takes latency and success from these.
- ``ab.<c>.usage.billed``: one per billed LLM call, ``model`` and ``tokens``;
  the runtime prices it with its pricing table.
- The standard events of the libraries underneath, for the trace experiment:
  ``req_llm.request.*`` per LLM call, ``hedging.request.*``,
  ``ensemble.prediction.*``, ``ensemble.vote.completed`` and
  ``altar.tool.*`` (from ``span``).

Every random number comes from the agent's own generator and every time
stamp from the simulated clock, so a seed fixes the numbers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import emit, span
from ._simclock import SimulatedClock

__all__ = ["CONDITIONS", "MODELS", "Condition", "ModelProfile", "Slowdown", "agent", "no_slowdown"]

#: ``slowdown(model, now_us)``: the factor applied to a call to ``model`` made at ``now_us``.
Slowdown = Callable[[str, int], float]


def no_slowdown(model: str, now_us: int) -> float:
    """Every model at its usual speed."""
    return 1.0


@dataclass(frozen=True)
class ModelProfile:
    """How a simulated model behaves."""

    provider: str
    median_ms: float
    sigma: float
    failure_rate: float
    completion_tokens: tuple[int, int]

    @property
    def hedge_after_s(self) -> float:
        """Delay before a duplicate request: about the 98th latency percentile."""
        return self.median_ms * math.exp(2.05 * self.sigma) / 1000


MODELS: dict[str, ModelProfile] = {
    "gpt-4": ModelProfile("openai", 950.0, 0.40, 0.04, (150, 600)),
    "claude-3-sonnet": ModelProfile("anthropic", 1_000.0, 0.45, 0.03, (120, 500)),
    "gpt-3.5-turbo": ModelProfile("openai", 450.0, 0.35, 0.05, (100, 450)),
    "gemini-2.0-flash-exp": ModelProfile("google", 380.0, 0.35, 0.06, (100, 450)),
}

TIMEOUT_S = 8.0
RATE_LIMIT_MEDIAN_S = 0.08
TOOL_PROBABILITY = 0.3
TOOL_FAILURE_RATE = 0.05
THINK_MEDIAN_S = 3.0


@dataclass(frozen=True)
class Condition:
    """One arm of the study: the models asked for each query."""

    name: str
    models: tuple[str, ...]
    description: str  # the models, short enough for a table cell

    @property
    def prefix(self) -> tuple[str, str]:
        """The event-name prefix of this condition's A/B events."""
        return ("ab", self.name)


CONDITIONS = (
    Condition("single", ("gpt-4",), "gpt-4"),
    Condition(
        "ensemble",
        ("claude-3-sonnet", "gpt-3.5-turbo", "gemini-2.0-flash-exp"),
        "sonnet + 3.5-turbo + flash, vote",
    ),
)


class ToolError(Exception):
    """The simulated search tool failed."""


@dataclass(frozen=True)
class _Attempt:
    """One planned request to a model: how long it takes and how it ends."""

    seconds: float
    ok: bool
    error: str | None
    completion_tokens: int


@dataclass(frozen=True)
class _Emission:
    """An event to emit ``at_s`` seconds after the LLM part of a query began."""

    at_s: float
    name: tuple[str, ...] | str
    measurements: dict[str, Any] | None
    metadata: dict[str, Any]


@dataclass
class _Plan:
    """The planned events of some LLM calls, and when and how each call ends."""

    base_us: int
    emissions: list[_Emission] = field(default_factory=list)

    def add(
        self,
        at_s: float,
        name: tuple[str, ...] | str,
        measurements: dict[str, Any] | None,
        metadata: dict[str, Any],
    ) -> None:
        """Plan one event."""
        self.emissions.append(_Emission(at_s, name, measurements, metadata))

    def start(self, at_s: float, name: str, metadata: dict[str, Any]) -> None:
        """Plan a ``*.start`` event with its ``system_time``."""
        self.add(at_s, name, {"system_time": self.base_us + round(at_s * 1e6)}, metadata)


class _Agent:
    """One simulated agent: its generator, clock and condition."""

    def __init__(
        self,
        index: int,
        condition: Condition,
        clock: SimulatedClock,
        rng: random.Random,
        slowdown: Slowdown = no_slowdown,
    ) -> None:
        self.condition = condition
        self.clock = clock
        self.rng = rng
        self.slowdown = slowdown
        self.session = f"agent-{index:03d}"

    def draw(self, model: str) -> _Attempt:
        """Draw the latency and outcome of one request."""
        profile = MODELS[model]
        rng = self.rng
        completion = rng.randint(*profile.completion_tokens)
        if rng.random() >= profile.failure_rate:
            seconds = rng.lognormvariate(0.0, profile.sigma) * profile.median_ms / 1000
            seconds *= self.slowdown(model, self.clock())  # after the draws: same numbers
            return _Attempt(min(seconds, TIMEOUT_S), seconds < TIMEOUT_S, None, completion)
        if rng.random() < 0.7:
            seconds = rng.lognormvariate(0.0, 0.5) * RATE_LIMIT_MEDIAN_S
            return _Attempt(seconds, False, "rate_limited", completion)
        return _Attempt(TIMEOUT_S, False, "timeout", completion)

    async def query(self, number: int) -> None:
        """Answer one query: maybe a tool call, then the condition's models."""
        prefix = self.condition.prefix
        context = {"session_id": self.session, "sample_id": f"q{number}"}
        started = self.clock()
        emit((*prefix, "request", "start"), {"system_time": started}, context)
        prompt = self.rng.randint(300, 1_800)
        if self.rng.random() < TOOL_PROBABILITY:
            await self.search(context)
        plan = _Plan(self.clock())
        if len(self.condition.models) == 1:
            end_s, ok = self.plan_call(plan, self.condition.models[0], prompt, context)
        else:
            end_s, ok = self.plan_ensemble(plan, prompt, context)
        await self.play(plan)
        await self.clock.sleep_until(plan.base_us + round(end_s * 1e6))
        outcome = {"response": "answer"} if ok else {"error": "no answer"}
        duration_ns = (self.clock() - started) * 1_000
        emit((*prefix, "request", "stop"), {"duration": duration_ns}, {**context, **outcome})

    async def play(self, plan: _Plan) -> None:
        """Emit the planned events in time order, sleeping in between."""
        # A stable sort: events planned for the same instant keep their planned order.
        for emission in sorted(plan.emissions, key=lambda emission: emission.at_s):
            await self.clock.sleep_until(plan.base_us + round(emission.at_s * 1e6))
            emit(emission.name, emission.measurements, emission.metadata)

    async def search(self, context: dict[str, str]) -> None:
        """A tool call traced by ``span``; a failed tool is logged and ignored."""
        try:
            with span("altar.tool", tool="search", **context) as tool:
                await self.clock.sleep(self.rng.lognormvariate(0.0, 0.4) * 0.25)
                if self.rng.random() < TOOL_FAILURE_RATE:
                    raise ToolError("search backend unavailable")
                tool.metadata["hits"] = self.rng.randint(0, 10)
        except ToolError:
            pass

    def plan_ensemble(
        self, plan: _Plan, prompt: int, context: dict[str, str]
    ) -> tuple[float, bool]:
        """Every model in parallel; the answer needs a majority of successful calls."""
        models = self.condition.models
        plan.start(0.0, "ensemble.prediction.start", {**context, "size": len(models)})
        calls = [self.plan_call(plan, model, prompt, context) for model in models]
        end_s = max(seconds for seconds, _ in calls)
        votes = sum(ok for _, ok in calls)
        ok = votes * 2 > len(models)
        plan.add(end_s, "ensemble.vote.completed", {"votes": votes}, {**context, "agreement": ok})
        plan.add(end_s, "ensemble.prediction.stop", {"duration": round(end_s * 1e9)}, context)
        return end_s, ok

    def plan_call(
        self, plan: _Plan, model: str, prompt: int, context: dict[str, str]
    ) -> tuple[float, bool]:
        """One LLM call, hedged with a duplicate request when it is slow.

        Returns when the call ends (seconds after the plan's start) and whether it succeeded.
        """
        profile = MODELS[model]
        meta: dict[str, Any] = {**context, "model": model, "provider": profile.provider}
        primary = self.draw(model)
        plan.start(0.0, "req_llm.request.start", meta)
        hedge_after = profile.hedge_after_s
        if primary.seconds <= hedge_after:
            self.plan_finish(plan, meta, primary, prompt, 0.0, primary.seconds)
            return primary.seconds, primary.ok
        backup = self.draw(model)
        plan.start(0.0, "hedging.request.start", meta)
        plan.add(hedge_after, "hedging.request.duplicated", {"delay_ms": hedge_after * 1e3}, meta)
        plan.start(hedge_after, "req_llm.request.start", {**meta, "hedge": True})
        # The first successful answer wins; when both fail, the call ends with the later one.
        backup_end = hedge_after + backup.seconds
        hedged = {**meta, "hedge": True}
        ends = [(primary.seconds, primary, 0.0, meta), (backup_end, backup, hedge_after, hedged)]
        ends.sort(key=lambda end: (not end[1].ok, end[0]))
        (win_end, winner, win_start, win_meta), (_, loser, lose_start, lose_meta) = ends
        end_s = win_end if winner.ok else max(primary.seconds, backup_end)
        self.plan_finish(plan, win_meta, winner, prompt, win_start, win_end)
        if loser.ok:  # still running when the winner answered: cancelled, prompt billed
            tokens = {"prompt": prompt, "completion": 0}
            plan.add(
                end_s,
                "req_llm.request.stop",
                {"duration": round((end_s - lose_start) * 1e9)},
                {**lose_meta, "cancelled": True, "tokens": tokens},
            )
            plan.add(end_s, self.billed, None, {"model": model, "tokens": tokens})
        won = {**meta, "winner": "backup" if win_start else "primary"}
        plan.add(end_s, "hedging.request.stop", {"duration": round(end_s * 1e9)}, won)
        return end_s, winner.ok

    def plan_finish(
        self,
        plan: _Plan,
        meta: dict[str, Any],
        attempt: _Attempt,
        prompt: int,
        start_s: float,
        end_s: float,
    ) -> None:
        """The end of one request; a successful one is billed."""
        duration = {"duration": round((end_s - start_s) * 1e9)}
        if not attempt.ok:
            plan.add(
                end_s, "req_llm.request.exception", duration, {**meta, "error": attempt.error}
            )
            return
        tokens = {"prompt": prompt, "completion": attempt.completion_tokens}
        plan.add(
            end_s, "req_llm.request.stop", duration, {**meta, "tokens": tokens, "response": "…"}
        )
        plan.add(end_s, self.billed, None, {"model": meta["model"], "tokens": tokens})

    @property
    def billed(self) -> tuple[str, ...]:
        """The A/B experiment's cost record of one call, priced by the runtime."""
        return (*self.condition.prefix, "usage", "billed")


async def agent(
    index: int,
    condition: Condition,
    clock: SimulatedClock,
    rng: random.Random,
    end_us: int,
    slowdown: Slowdown = no_slowdown,
) -> None:
    """Run one simulated agent: queries with think time until ``end_us`` (virtual)."""
    state = _Agent(index, condition, clock, rng, slowdown)
    await clock.sleep(rng.uniform(0.0, THINK_MEDIAN_S))  # agents do not start in lockstep
    number = 0
    while clock() < end_us:
        await state.query(number)
        number += 1
        await clock.sleep(rng.lognormvariate(0.0, 0.6) * THINK_MEDIAN_S)
