"""Paired comparison: the two sides' values matched by a key (a sample id, a prompt).

Each side's values are averaged per key; keys present on both sides form the
pairs, in the order their key first appears on the baseline side. Values
whose key is ``None`` have no key and are left out, as are keys seen on one
side only; the notes count both.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._scipy import attempt

FloatArray = npt.NDArray[np.float64]

#: Below this many pairs the paired t-test's normal approximation is unreliable.
FEW_PAIRS = 30


class PairedTests(NamedTuple):
    """p-values of the paired t-test and Wilcoxon signed-rank test, and how many pairs."""

    p_paired_t: float | None
    p_wilcoxon: float | None
    n_pairs: int


def means_per_key(
    values: FloatArray, keys: Sequence[Hashable]
) -> tuple[dict[Hashable, float], int]:
    """Exactly rounded mean of the values of each key, and how many values had no key. O(n)."""
    groups: dict[Hashable, list[float]] = {}
    unkeyed = 0
    for value, key in zip(values.tolist(), keys, strict=True):
        if key is None:
            unkeyed += 1
        else:
            groups.setdefault(key, []).append(value)
    return {key: math.fsum(group) / len(group) for key, group in groups.items()}, unkeyed


def pair(
    baseline: FloatArray,
    baseline_keys: Sequence[Hashable],
    treatment: FloatArray,
    treatment_keys: Sequence[Hashable],
    *,
    name: str,
    key_name: str,
    notes: list[str],
) -> tuple[FloatArray, FloatArray]:
    """Per-key means of both sides for the keys they share, with notes on what was left out.

    Returns:
        Two arrays of equal length: baseline and treatment means, pair by pair.
        O(n_b + n_t) (hashing every key once).
    """
    sides = {}
    for label, values, keys in (
        ("baseline", baseline, baseline_keys),
        ("treatment", treatment, treatment_keys),
    ):
        sides[label], unkeyed = means_per_key(values, keys)
        if unkeyed:
            notes.append(
                f"{name}: {unkeyed} of {len(keys)} {label} values have no {key_name}"
                " and were left out of the paired tests"
            )
    base, treat = sides["baseline"], sides["treatment"]
    shared = [key for key in base if key in treat]
    for label, other, means in (("baseline", "treatment", base), ("treatment", "baseline", treat)):
        alone = len(means) - len(shared)
        if alone:
            notes.append(
                f"{name}: {alone} of {len(means)} {label} {key_name} values have no partner"
                f" on the {other} side and were left out of the paired tests"
            )
    return (
        np.array([base[key] for key in shared], dtype=np.float64),
        np.array([treat[key] for key in shared], dtype=np.float64),
    )


def paired_tests(
    baseline: FloatArray,
    treatment: FloatArray,
    *,
    stats: Any,
    name: str,
    key_name: str,
    notes: list[str],
) -> PairedTests:
    """``scipy.stats.ttest_rel`` and ``scipy.stats.wilcoxon`` (default options) on the pairs.

    Args:
        baseline: Baseline means, pair by pair.
        treatment: Treatment means, in the same order.
        stats: The ``scipy.stats`` module.
        name: The metric, for the notes.
        key_name: What the pairs are keyed by, for the notes.
        notes: Where sentences about unreliable or undefined tests go.

    Returns:
        Both p-values (``None`` when a test is undefined: fewer than two
        pairs, every difference zero, or, for the t-test, differences without
        variance) and the number of pairs. O(n log n) in the pairs (Wilcoxon ranks).
    """
    n = baseline.size
    if n < 2:
        notes.append(
            f"{name}: no {key_name} is present on both sides; the paired tests are left out"
            if n == 0
            else f"{name}: only one pair; the paired tests need at least two"
        )
        return PairedTests(None, None, n)
    differences = treatment - baseline
    if not differences.any():
        notes.append(f"{name}: every paired difference is zero; the paired tests are undefined")
        return PairedTests(None, None, n)
    if n < FEW_PAIRS:
        notes.append(f"{name}: fewer than 30 pairs ({n}); the paired t-test is unreliable")
    p_wilcoxon = attempt(
        "the Wilcoxon signed-rank test",
        lambda: stats.wilcoxon(baseline, treatment).pvalue,
        notes,
        name,
    )
    if np.ptp(differences) == 0:
        notes.append(
            f"{name}: the paired differences have no variance; the paired t-test is undefined"
        )
        return PairedTests(None, p_wilcoxon, n)
    p_t = attempt(
        "the paired t-test", lambda: stats.ttest_rel(baseline, treatment).pvalue, notes, name
    )
    return PairedTests(p_t, p_wilcoxon, n)
