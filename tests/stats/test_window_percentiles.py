"""window_percentiles against ``numpy.percentile``, window by window, bit for bit.

Every strategy (matrix, segments, sweep) is checked on its own as well as
through the public function, so a dispatch change cannot hide a wrong path.
"""

from __future__ import annotations

import doctest
import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_actors._stats import _window_percentiles as window_percentiles_module
from telemetry_actors._stats._window_percentiles import (
    by_matrix,
    by_segments,
    by_sweep,
    choose_path,
    window_percentiles,
)
from telemetry_actors._stats._windowed import window_rows

NAN = math.nan

Path = Callable[
    [np.ndarray, Sequence[tuple[int, int]], Sequence[float]], list[dict[float, float | None]]
]


def _public(path: str) -> Path:
    """The public function, its result shape, computed by one named path."""

    def run(
        latency: np.ndarray, windows: Sequence[tuple[int, int]], percentiles: Sequence[float]
    ) -> list[dict[float, float | None]]:
        return window_percentiles(latency, windows, percentiles, path=path)

    return run


PATHS = {
    "auto": partial(window_percentiles),
    "matrix": _public("matrix"),
    "segments": _public("segments"),
    "sweep": _public("sweep"),
}


def reference(
    latency: np.ndarray, windows: Sequence[tuple[int, int]], percentiles: Sequence[float]
) -> list[dict[float, float | None]]:
    """numpy.percentile over each window's non-NaN values, one window at a time."""
    result = []
    for first, end in windows:
        values = latency[first:end]
        values = values[~np.isnan(values)]
        result.append(
            {
                float(p): float(np.percentile(values, p)) if values.size else None
                for p in percentiles
            }
        )
    return result


def bits(value: float | None) -> str | None:
    """The exact bits of a float, so that equality means bit for bit."""
    return None if value is None else float(value).hex()


def assert_same(
    got: list[dict[float, float | None]], want: list[dict[float, float | None]]
) -> None:
    assert len(got) == len(want)
    for index, (row, expected) in enumerate(zip(got, want, strict=True)):
        assert list(row) == list(expected), f"window {index}: keys"
        assert {p: bits(v) for p, v in row.items()} == {p: bits(v) for p, v in expected.items()}, (
            f"window {index}"
        )
        assert all(v is None or type(v) is float for v in row.values())


#: Finite values, -0.0 folded into 0.0 (the two compare equal, so which one a
#: partition or a sort puts first is unspecified), small pools for many ties.
values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False).map(lambda x: x + 0.0),
    st.sampled_from([0.0, 1.0, 2.0, 2.5, 1e6]),
    st.just(NAN),
)

percentile_lists = st.lists(
    st.one_of(
        st.integers(0, 100),
        st.floats(0, 100, allow_nan=False),
        st.sampled_from([0, 0.5, 25, 50, 95, 99, 99.9, 100]),
    ),
    max_size=5,
)


@st.composite
def latencies_and_windows(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A latency column and half-open windows, non-decreasing in both ends."""
    latency = np.array(draw(st.lists(values, max_size=60)), dtype=np.float64)
    n = latency.size
    count = draw(st.integers(0, 12))
    firsts = sorted(draw(st.lists(st.integers(0, n), min_size=count, max_size=count)))
    ends = sorted(draw(st.lists(st.integers(0, n), min_size=count, max_size=count)))
    return latency, [(a, max(a, b)) for a, b in zip(firsts, ends, strict=True)]


@pytest.mark.parametrize("path", sorted(PATHS))
@settings(max_examples=300, deadline=None)
@given(case=latencies_and_windows(), percentiles=percentile_lists)
def test_every_path_equals_numpy_bit_for_bit(
    path: str, case: tuple[np.ndarray, list[tuple[int, int]]], percentiles: list[float]
) -> None:
    latency, windows = case
    assert_same(
        PATHS[path](latency, windows, percentiles), reference(latency, windows, percentiles)
    )


@settings(max_examples=300, deadline=None)
@given(case=latencies_and_windows(), percentiles=percentile_lists, stride=st.integers(1, 5))
def test_segment_selection_equals_numpy_on_small_windows(
    case: tuple[np.ndarray, list[tuple[int, int]]], percentiles: list[float], stride: int
) -> None:
    """The sampled bracketing of the segment path, forced on windows of any size."""
    latency, windows = case
    values_, counts = by_segments(
        latency, windows, [p / 100 for p in map(float, percentiles)], pooled_below=0, stride=stride
    )
    want = reference(latency, windows, percentiles)
    for index, expected in enumerate(want):
        if counts[index] == 0:
            assert all(v is None for v in expected.values())
            continue
        assert [bits(float(v)) for v in values_[index]] == [
            bits(expected[float(p)]) for p in percentiles
        ]


@pytest.mark.parametrize("path", ["matrix", "segments", "sweep"])
def test_large_windows_with_heavy_ties_and_gaps(path: str) -> None:
    """50 000 rows: rounded values (many ties), NaN runs, overlapping and disjoint windows."""
    rng = np.random.default_rng(7)
    latency = np.round(rng.lognormal(3.0, 0.8, 50_000), 1)
    latency[rng.random(latency.size) < 0.05] = NAN
    latency[20_000:25_000] = NAN  # window 20 has no latency at all
    latency[30_000:32_000] = 42.0  # a run of one value
    windows = [(a, min(a + 5_000, latency.size)) for a in range(0, latency.size, 1_000)]
    windows += [(latency.size, latency.size)]
    percentiles = (0, 1, 50, 95, 99, 99.9, 100)
    got = window_percentiles(latency, windows, percentiles, path=path)
    assert_same(got, reference(latency, windows, percentiles))
    assert got[20] == dict.fromkeys(map(float, percentiles))


def test_the_segment_path_brackets_on_real_sizes() -> None:
    """Sampled bracketing with realistic strides equals numpy, incl. a trend (wide brackets)."""
    rng = np.random.default_rng(11)
    latency = np.concatenate([rng.lognormal(4, 1, 40_000), np.linspace(1, 1e4, 40_000)])
    latency[rng.random(latency.size) < 0.02] = NAN
    windows = [(a, min(a + 25_000, latency.size)) for a in range(0, latency.size, 5_000)]
    percentiles = (50, 95, 99)
    values_, counts = by_segments(latency, windows, [0.5, 0.95, 0.99], pooled_below=0)
    want = reference(latency, windows, percentiles)
    assert counts.tolist() == [int(np.count_nonzero(~np.isnan(latency[a:b]))) for a, b in windows]
    for index, expected in enumerate(want):
        assert [bits(float(v)) for v in values_[index]] == [
            bits(expected[float(p)]) for p in percentiles
        ]


def test_the_low_level_paths_agree_without_the_public_wrapper() -> None:
    rng = np.random.default_rng(3)
    latency = rng.normal(100, 10, 3_000)
    latency[::7] = NAN
    windows = [(a, min(a + 300, 3_000)) for a in range(0, 3_000, 60)]
    quantiles = [0.0, 0.5, 0.99, 1.0]
    results = [path(latency, windows, quantiles) for path in (by_matrix, by_segments, by_sweep)]
    for values_, counts in results[1:]:
        assert counts.tolist() == results[0][1].tolist()
        assert [v.hex() for v in values_.ravel().tolist()] == [
            v.hex() for v in results[0][0].ravel().tolist()
        ]


def test_infinite_values_follow_numpy() -> None:
    """numpy interpolates inf - inf into NaN; so do all paths (rare, but exact)."""
    latency = np.array([1.0, math.inf, 2.0, math.inf])
    windows = [(0, 2), (1, 2), (1, 4), (3, 4)]
    with np.errstate(invalid="ignore"):
        want = reference(latency, windows, (0, 50, 100))
    for path in ("matrix", "segments", "sweep"):
        assert_same(window_percentiles(latency, windows, (0, 50, 100), path=path), want)


def test_one_million_events_of_five_minute_windows_take_the_segment_path() -> None:
    stamps = list(range(0, 1_000_000_000, 1_000))
    windows = [(a, b) for _, a, b in window_rows(stamps, 300_000_000, 60_000_000)]
    assert choose_path(1_000_000, windows) == "segments"


def test_many_small_windows_take_the_matrix_path() -> None:
    windows = [(a, a + 50) for a in range(0, 1_000_000 - 50, 10)]
    assert choose_path(1_000_000, windows) == "matrix"


def test_long_windows_stepping_a_few_rows_take_the_sweep() -> None:
    windows = [(a, a + 20_000) for a in range(0, 1_000_000 - 20_000, 20)]
    assert choose_path(1_000_000, windows) == "sweep"


def test_results_keep_percentile_order_and_merge_duplicates() -> None:
    latency = np.array([4.0, 1.0, 3.0, 2.0])
    got = window_percentiles(latency, [(0, 4)], (99, 50, 50.0, 0))
    assert list(got[0]) == [99.0, 50.0, 0.0]
    # 4 - (4 - 3) * (1 - 0.97), as numpy rounds it
    assert got[0] == {99.0: 3.9699999999999998, 50.0: 2.5, 0.0: 1.0}


def test_no_percentiles_give_empty_dicts_and_no_windows_an_empty_list() -> None:
    latency = np.array([1.0, NAN])
    assert window_percentiles(latency, [(0, 1), (1, 2)], ()) == [{}, {}]
    assert window_percentiles(latency, [], (50,)) == []


@pytest.mark.parametrize(
    ("percentiles", "match"),
    [
        ((101,), r"percentile 101 is outside \[0, 100\]"),
        ((50, -0.5), r"percentile -0.5 is outside \[0, 100\]"),
        ((NAN,), r"percentile nan is outside \[0, 100\]"),
        (("50",), r"percentile '50' is not a number"),
        ((True,), r"percentile True is not a number"),
        ((None,), r"percentile None is not a number"),
    ],
)
def test_bad_percentiles_are_named(percentiles: tuple[object, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        window_percentiles(np.array([1.0]), [(0, 1)], percentiles)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("windows", "match"),
    [
        ([(2, 1)], r"window 0 \(2, 1\) ends before it starts"),
        ([(0, 5)], r"window 0 \(0, 5\) is outside rows 0\.\.3"),
        ([(-1, 2)], r"window 0 \(-1, 2\) is outside rows 0\.\.3"),
        ([(1, 2), (0, 3)], r"window 1 \(0, 3\) starts before window 0"),
        ([(0, 3), (1, 2)], r"window 1 \(1, 2\) ends before window 0"),
    ],
)
def test_bad_windows_are_named(windows: list[tuple[int, int]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        window_percentiles(np.array([1.0, 2.0, 3.0]), windows, (50,))


def test_latency_must_be_one_dimensional() -> None:
    with pytest.raises(ValueError, match=r"latency must be one-dimensional, got shape \(2, 2\)"):
        window_percentiles(np.ones((2, 2)), [(0, 1)], (50,))


def test_an_unknown_path_is_named() -> None:
    with pytest.raises(ValueError, match=r"path must be one of .*, got 'fast'"):
        window_percentiles(np.ones(2), [(0, 1)], (50,), path="fast")  # type: ignore[arg-type]


def test_the_docstring_example_runs() -> None:
    results = doctest.testmod(window_percentiles_module)
    assert (results.failed, results.attempted) == (0, 1)
