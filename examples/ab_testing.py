"""A/B test: two prompt templates, run side by side and compared.

Run with ``python examples/ab_testing.py``. Simulated users send questions to
gpt-3.5-turbo with either the current prompt (``control``) or a shorter one
(``treatment``). Both conditions run at the same time in one Runtime.

An experiment collects events by *name*, so the two conditions must not emit
the same names: each condition's code emits under its own prefix
(``ab.control.…``, ``ab.treatment.…``) and each experiment lists only its own
prefix with a wildcard. At the end ``compare_experiments`` measures the
treatment against the control, and ``export_multiple`` writes both into one
CSV in ``exports/``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import anyio
import anyio.lowlevel

from telemetry_actors import Runtime, emit


@dataclass(frozen=True)
class Arm:
    """How the simulated model behaves with one prompt template."""

    prompt_tokens: tuple[int, int]
    median_ms: float
    failure_rate: float


ARMS = {
    "control": Arm(prompt_tokens=(1_100, 1_600), median_ms=820.0, failure_rate=0.06),
    "treatment": Arm(prompt_tokens=(500, 800), median_ms=640.0, failure_rate=0.03),
}
USERS_PER_ARM = 20
QUESTIONS_PER_USER = 10


async def user(arm: str, user_id: int) -> None:
    """One simulated user asking questions; its numbers depend only on (arm, user_id)."""
    rng = random.Random(f"{arm}:{user_id}")
    profile = ARMS[arm]
    for question in range(QUESTIONS_PER_USER):
        latency_ms = rng.lognormvariate(0.0, 0.35) * profile.median_ms
        metadata = {
            "model": "gpt-3.5-turbo",
            "user_id": f"user-{user_id}",
            "sample_id": f"q{question}",
            "tokens": {
                "prompt": rng.randint(*profile.prompt_tokens),
                "completion": rng.randint(80, 300),
            },
        }
        if rng.random() < profile.failure_rate:
            metadata["error"] = "invalid_json"  # the answer did not parse
        else:
            metadata["response"] = "..."
        emit(
            ("ab", arm, "req_llm", "request", "stop"),
            {"duration": int(latency_ms * 1e6)},
            metadata,
        )
        await anyio.lowlevel.checkpoint()  # let the other users (and the actors) run


async def main() -> None:
    async with Runtime() as rt:
        ids = {}
        for arm in ARMS:
            experiment = await rt.start_experiment(
                "prompt_ab",
                hypothesis="the shorter prompt is cheaper and no less reliable",
                condition=arm,
                tags=["example", "ab-test"],
                events=[f"ab.{arm}.*"],  # this arm's events only
            )
            ids[arm] = experiment.id
        async with anyio.create_task_group() as users:
            for arm in ARMS:
                for user_id in range(USERS_PER_ARM):
                    users.start_soon(user, arm, user_id)
        await rt.flush()
        for experiment_id in ids.values():
            await rt.stop_experiment(experiment_id)

        comparison = await rt.compare_experiments([ids["control"], ids["treatment"]])
        for arm, experiment_id in ids.items():
            metrics = comparison.individual[experiment_id]
            print(
                f"{arm:<9}: {metrics.summary.total_events} requests, "
                f"mean latency {metrics.latency.mean:.0f} ms, p95 {metrics.latency.p95:.0f} ms, "
                f"cost ${metrics.cost.total:.4f}, success {metrics.reliability.success_rate:.1%}"
            )
        delta = comparison.comparison["treatment_1"]
        print(
            f"treatment vs control: latency {delta.latency_improvement_pct:+.1f}%, "
            f"cost {delta.cost_difference_usd:+.4f} USD, "
            f"success rate {delta.success_rate_improvement_pct:+.1f}%"
        )
        path = await rt.export_multiple(list(ids.values()), "csv")
        print(f"wrote {path}")


if __name__ == "__main__":
    anyio.run(main)
