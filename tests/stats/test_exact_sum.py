"""exact_sum equals math.fsum for every array of finite doubles, whole numbers included."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_actors._stats import _exact_sum as exact_sum_module
from telemetry_actors._stats._exact_sum import ExactSum, exact_sum


def reference(values: list[float]) -> float:
    """The correctly rounded sum (math.fsum's), ±inf past the float range."""
    exact = sum(map(Fraction, values), Fraction(0))
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


finite = st.floats(allow_nan=False, allow_infinity=False)
whole = st.integers(-(2**40), 2**40).map(float)


@given(st.lists(finite, max_size=200))
def test_any_finite_values(values: list[float]) -> None:
    assert exact_sum(np.array(values, dtype=np.float64)) == reference(values)


@given(st.lists(whole, max_size=200))
def test_whole_numbers_around_the_int64_fast_path(values: list[float]) -> None:
    assert exact_sum(np.array(values, dtype=np.float64)) == reference(values)


@given(st.lists(st.one_of(whole, finite), max_size=200), st.integers(0, 200))
def test_merged_batches_equal_one_sum(values: list[float], cut: int) -> None:
    left, right = ExactSum(), ExactSum()
    left.add(np.array(values[:cut], dtype=np.float64))
    right.add(np.array(values[cut:], dtype=np.float64))
    left.merge(right)
    assert left.value == reference(values)


def test_classic_cancellation_and_large_whole_numbers() -> None:
    assert exact_sum(np.array([1e16, 1.0, -1e16])) == 1.0
    big = np.full(1000, float(2**37 - 1))
    assert exact_sum(big) == math.fsum(big.tolist())
    assert exact_sum(np.array([2.0**60, 1.0, -(2.0**60)])) == 1.0


@given(
    st.integers(0, 200),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20),
)
def test_whole_numbers_first_then_anything(whole: int, rest: list[float]) -> None:
    """The whole-number check looks at the first values first; the rest still decide."""
    values = [float(i % 7) for i in range(whole)] + rest
    assert exact_sum(np.array(values)) == reference(values)


@given(st.lists(st.one_of(whole, finite), max_size=60), st.integers(1, 8))
def test_sliced_passes_equal_one_pass(values: list[float], rows: int) -> None:
    """Sums over slices of ROWS_PER_PASS rows merge to the correctly rounded whole sum."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exact_sum_module, "ROWS_PER_PASS", rows)
        assert exact_sum(np.array(values, dtype=np.float64)) == reference(values)
