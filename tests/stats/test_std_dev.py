"""sample_std_dev: the sample standard deviation, sliced or not, against exact arithmetic."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_actors._stats import _metrics as metrics_module
from telemetry_actors._stats._exact_sum import exact_sum
from telemetry_actors._stats._metrics import sample_std_dev

#: Values whose squared deviations neither overflow nor underflow (d * d of
#: 1e-260 is 0.0 in any float arithmetic, exact sums or not).
moderate = st.floats(-1e12, 1e12, allow_nan=False).filter(lambda v: v == 0.0 or abs(v) > 1e-100)


def std_dev_of(values: list[float]) -> float:
    array = np.array(values, dtype=np.float64)
    return sample_std_dev(array, exact_sum(array) / len(array))


@given(st.lists(moderate, min_size=2, max_size=80), st.integers(1, 9))
def test_sliced_equals_statistics_stdev(values: list[float], rows: int) -> None:
    """Any slice size gives statistics.stdev (exact fractions inside) to 1e-9 relative."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_module, "ROWS_PER_PASS", rows)
        got = std_dev_of(values)
    assert got == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-300)


@given(st.lists(moderate, min_size=2, max_size=80), st.integers(1, 9))
def test_slice_size_does_not_change_the_result(values: list[float], rows: int) -> None:
    whole = std_dev_of(values)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_module, "ROWS_PER_PASS", rows)
        assert std_dev_of(values) == whole


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0, 1e200], math.inf),  # a square beyond the float range
        ([1.0, 2.0, 3.0, -1.7e308, 1.7e308], math.inf),  # a deviation beyond it
    ],
)
def test_overflow_in_a_later_slice_gives_inf(values: list[float], expected: float) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metrics_module, "ROWS_PER_PASS", 2)
        assert std_dev_of(values) == expected


def test_equal_values_and_one_value() -> None:
    assert std_dev_of([3.5, 3.5, 3.5]) == 0.0
    assert sample_std_dev(np.array([2.0]), 2.0) == 0.0
