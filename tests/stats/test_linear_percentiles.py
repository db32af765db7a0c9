"""linear_percentiles is numpy's linear method, and stays finite where numpy overflows."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from telemetry_actors._stats._percentile import linear_percentiles

BIGGEST = float(np.finfo(np.float64).max)


@given(
    st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=50),
    st.lists(st.floats(0, 100), min_size=1, max_size=5),
)
def test_equal_to_numpy(values: list[float], percentiles: list[float]) -> None:
    expected = np.percentile(np.array(values), percentiles).tolist()
    assert linear_percentiles(np.array(values), percentiles) == expected


def test_neighbours_of_opposite_signs_near_the_float_range() -> None:
    values = np.array([-BIGGEST, BIGGEST])
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(np.percentile(values, 50))  # numpy's own overflows
    assert linear_percentiles(values, (0, 50, 100)) == [-BIGGEST, 0.0, BIGGEST]
