"""Hypothesis strategies for the statistics layer: samples, counts and p-values.

Samples are float64 arrays of moderate magnitude (multiples of 1e-6 up to 1e6:
no underflow or overflow in sums of squares), sometimes drawn from a handful of values so that ties
and constant sides occur often.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Rounded to 1e-6 so that squares neither underflow (1e-241² is 0) nor lose all precision.
finite_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(
    lambda x: round(x, 6)
)
tied_values = st.sampled_from([0.0, 1.0, 2.5, 2.5, 7.0])


@st.composite
def samples(draw: st.DrawFn, min_size: int = 0, max_size: int = 40) -> np.ndarray:
    """A 1-D float64 array; a third of the time with heavy ties."""
    elements = draw(st.sampled_from([finite_values, finite_values, tied_values]))
    size = draw(st.integers(min_size, max_size))
    return draw(hnp.arrays(np.float64, size, elements=elements))


@st.composite
def varied_samples(draw: st.DrawFn, min_size: int = 2, max_size: int = 40) -> np.ndarray:
    """A sample with at least two distinct values (so it has variance)."""
    values = draw(samples(min_size=max(min_size, 2), max_size=max_size))
    if np.ptp(values) == 0:
        values = np.append(values[1:], values[0] + 1.0)
    return values


@st.composite
def counts(draw: st.DrawFn, max_total: int = 200) -> tuple[int, int]:
    """``(successes, total)`` with ``0 <= successes <= total``."""
    total = draw(st.integers(0, max_total))
    return draw(st.integers(0, total)), total


p_values = st.one_of(st.none(), st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.05]))
