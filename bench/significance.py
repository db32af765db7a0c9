"""``significance_from_samples`` on 10,000 vs 10,000 events with 10,000 resamples.

Timed next to two baselines: the same scipy calls alone (Welch test and
interval, Mann-Whitney for latency and cost; Fisher and two Wilson intervals
for success), and ``scipy.stats.bootstrap(method="percentile",
vectorized=True)`` for one median difference, against our order-statistic
bootstrap doing the same job. scipy is imported and warmed up before timing.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from telemetry_actors._stats._bootstrap import quantile_difference_interval
from telemetry_actors._stats._significance import SideSample, significance_from_samples

from ._timing import Case, Config, Measurement, run_cases

EVENTS = 10_000
RESAMPLES = 10_000
#: scipy.stats.bootstrap's fastest batch size here (10 to 250 are within 10 %).
SCIPY_BATCH = 50


def sides() -> tuple[SideSample, SideSample]:
    """Two LLM-like sides: log-normal latencies (ms) and costs (USD), 95 % vs 96 % success."""
    rng = np.random.default_rng(2024)
    made = []
    for shift, successes in ((0.0, 9_500), (0.05, 9_600)):
        latency = rng.lognormal(6.0 + shift, 0.6, EVENTS)
        cost = rng.lognormal(-7.0 + shift, 0.4, EVENTS)
        made.append(SideSample(latency=latency, cost=cost, successes=successes, total=EVENTS))
    return made[0], made[1]


def package(baseline: SideSample, treatment: SideSample) -> None:
    """The whole analysis, as the runtime will call it."""
    significance_from_samples(
        baseline,
        treatment,
        baseline_id="a",
        treatment_id="b",
        paired_by=None,
        resamples=RESAMPLES,
        seed=1,
    )


def scipy_calls(stats: Any, baseline: SideSample, treatment: SideSample) -> list[Any]:
    """The scipy calls behind the p-values and parametric intervals, nothing else."""
    answers: list[Any] = []
    for name in ("latency", "cost"):
        b, t = getattr(baseline, name), getattr(treatment, name)
        answers.append(stats.ttest_ind(b, t, equal_var=False).pvalue)
        answers.append(stats.ttest_ind(t, b, equal_var=False).confidence_interval(0.95))
        answers.append(stats.mannwhitneyu(b, t, alternative="two-sided").pvalue)
    for side in (baseline, treatment):
        wilson = stats.binomtest(side.successes, side.total).proportion_ci(0.95, method="wilson")
        answers.append(wilson)
    table = [
        [baseline.successes, baseline.total - baseline.successes],
        [treatment.successes, treatment.total - treatment.successes],
    ]
    answers.append(stats.fisher_exact(table).pvalue)
    return answers


def median_difference(b: Any, t: Any, axis: int = -1) -> Any:
    """The statistic scipy's bootstrap resamples: median(treatment) - median(baseline)."""
    return np.median(t, axis=axis) - np.median(b, axis=axis)


async def run(config: Config) -> list[Measurement]:
    """Time the analysis and its scipy baselines, interleaved, median of ``config.reps``."""
    stats = importlib.import_module("scipy.stats")
    baseline, treatment = sides()
    package(baseline, treatment)  # warm-up: imports, first-call caches
    b_sorted, t_sorted = np.sort(baseline.latency), np.sort(treatment.latency)
    size = f"{EVENTS:,} vs {EVENTS:,}"
    cases = [
        Case(
            "significance.package",
            f"significance_from_samples, {size}, {RESAMPLES:,} resamples",
            "ms",
            lambda: package(baseline, treatment),
            1e3,
        ),
        Case(
            "significance.scipy_calls",
            f"the same scipy tests alone, {size}",
            "ms",
            lambda: scipy_calls(stats, baseline, treatment),
            1e3,
        ),
        Case(
            "significance.bootstrap",
            f"our bootstrap of one median difference, {size}, {RESAMPLES:,} resamples",
            "ms",
            lambda: quantile_difference_interval(
                b_sorted,
                t_sorted,
                0.5,
                confidence=0.95,
                resamples=RESAMPLES,
                rng=np.random.default_rng(1),
            ),
            1e3,
        ),
        Case(
            "significance.scipy_bootstrap",
            f"scipy.stats.bootstrap, same median difference (batch={SCIPY_BATCH})",
            "ms",
            lambda: stats.bootstrap(
                (baseline.latency, treatment.latency),
                median_difference,
                n_resamples=RESAMPLES,
                method="percentile",
                vectorized=True,
                batch=SCIPY_BATCH,
                rng=1,
            ),
            1e3,
        ),
    ]
    results = await run_cases(cases, config.reps)
    ours, theirs = results[2], results[3]
    speedup = Measurement(
        "significance.bootstrap_speedup",
        "scipy.stats.bootstrap time / our bootstrap time",
        "x",
        [s / o for s, o in zip(theirs.samples, ours.samples, strict=True)],
    )
    return [*results, speedup]
