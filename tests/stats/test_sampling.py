"""Sampling strategies: specs, per-event and batch decisions, Horvitz-Thompson estimates.

Statistical checks run many seeded samplers over a fixed population, so each
figure is deterministic: a failure is a change in behaviour, not bad luck.
"""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import random
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from telemetry_actors._stats._samplers import _uniforms
from telemetry_actors._stats._sampling import (
    Adaptive,
    Reservoir,
    ReservoirSampler,
    Sampler,
    SamplingSpec,
    Stratified,
    Uniform,
    make_sampler,
    sampler_from_metadata,
    weighted_count,
    weighted_total,
)

RUNS = 2_000
#: Below this p-value a goodness-of-fit test fails (one in a thousand by chance).
ALPHA = 1e-3


def decide_all(
    sampler: Sampler,
    n: int,
    keys: Sequence[object] | None = None,
    flags: Sequence[bool] | None = None,
    start: int = 0,
) -> list[float]:
    """Per-event decisions for handles ``start … start + n - 1`` (weights; 0.0 sampled out)."""
    decide = sampler.decide
    return [
        decide(
            start + i,
            None if keys is None else keys[i],
            False if flags is None else flags[i],
        )
        for i in range(n)
    ]


def population(n: int = 200) -> tuple[np.ndarray, list[bool]]:
    """A fixed population: log-normal latencies, about 80% successes."""
    rng = np.random.default_rng(20250101)
    values = rng.lognormal(mean=5.0, sigma=1.0, size=n)
    successes = (rng.random(n) < 0.8).tolist()
    return values, successes


def assert_unbiased(estimates: list[float], truth: float) -> None:
    """The mean of the estimates lies within 3 standard errors of the truth."""
    runs = np.asarray(estimates)
    standard_error = runs.std(ddof=1) / math.sqrt(len(runs))
    assert standard_error > 0
    assert abs(runs.mean() - truth) < 3 * standard_error, (runs.mean(), truth, standard_error)


# ----------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Uniform(1.5), ValueError, r"Uniform rate must be in \[0, 1\], got 1.5"),
        (lambda: Uniform(-0.1), ValueError, r"Uniform rate must be in \[0, 1\], got -0.1"),
        (lambda: Uniform(math.nan), ValueError, r"Uniform rate must be in \[0, 1\], got nan"),
        (lambda: Uniform("0.5"), TypeError, r"Uniform rate must be a number, got str '0.5'"),
        (lambda: Uniform(True), TypeError, r"Uniform rate must be a number, got bool True"),
        (lambda: Uniform(0.5, seed="7"), TypeError, r"Uniform seed must be an int or None"),
        (lambda: Uniform(0.5, seed=False), TypeError, r"Uniform seed .* got bool False"),
        (lambda: Reservoir(0), ValueError, r"Reservoir size must be >= 1, got 0"),
        (lambda: Reservoir(2.5), TypeError, r"Reservoir size must be an int, got float 2.5"),
        (lambda: Reservoir(True), TypeError, r"Reservoir size must be an int, got bool"),
        (lambda: Reservoir(5, seed=1.0), TypeError, r"Reservoir seed must be an int or None"),
        (
            lambda: Stratified({True: 0.0}),
            ValueError,
            r"rates\[True\] must be in \(0, 1\], got 0.0",
        ),
        (lambda: Stratified({False: 2}), ValueError, r"rates\[False\] must be in \(0, 1\], got 2"),
        (lambda: Stratified({True: "x"}), TypeError, r"rates\[True\] must be a number, got str"),
        (lambda: Stratified({True: 0.5}, default=0), ValueError, r"default must be in \(0, 1\]"),
        (lambda: Stratified("abc"), TypeError, r"rates must be a mapping .*, got str"),
        (lambda: Stratified({"true": 0.1}), ValueError, r"by 'success' .* got 'true'"),
        (lambda: Stratified({}, by=""), ValueError, r"Stratified by must be a non-empty str"),
        (lambda: Stratified({}, by=3), TypeError, r"Stratified by must be a str, got int 3"),
        (lambda: Stratified([([1], 0.5)], by="k"), TypeError, r"unhashable key \[1\]"),
        (lambda: Stratified([("a", 0.5, 1)], by="k"), TypeError, r"pairs \(key, rate\)"),
        (
            lambda: Stratified([("a", 0.5), ("a", 0.2)], by="k"),
            ValueError,
            r"rates name the key 'a' twice",
        ),
        (
            lambda: Stratified({"a.b": 0.5, ("a", "b"): 0.2}, by="event_name"),
            ValueError,
            r"rates name the key 'a.b' twice",
        ),
        (lambda: Stratified({3: 0.5}, by="event_name"), TypeError, r"event names .* got int 3"),
        (lambda: Adaptive(0.0), ValueError, r"Adaptive base_rate must be in \(0, 1\], got 0.0"),
        (lambda: Adaptive(1.01), ValueError, r"Adaptive base_rate must be in \(0, 1\]"),
        (lambda: Adaptive(None), TypeError, r"Adaptive base_rate must be a number, got None"),
    ],
)
def test_invalid_specs(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_stratified_spec_is_frozen_hashable_and_order_free() -> None:
    first = Stratified({True: 0.1, False: 1.0})
    second = Stratified({False: 1.0, True: 0.1})
    assert first.rates == ((False, 1.0), (True, 0.1))
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, Uniform(0.5), Reservoir(3), Adaptive(0.2)}) == 4
    with pytest.raises(AttributeError):
        first.by = "model"  # type: ignore[misc]


def test_stratified_event_name_keys_are_dotted() -> None:
    spec = Stratified({("llm", "call", "stop"): 0.5, "llm.call.start": 0.25}, by="event_name")
    assert spec.rates == (("llm.call.start", 0.25), ("llm.call.stop", 0.5))


@pytest.mark.parametrize(
    "spec",
    [
        Uniform(0.25, seed=3),
        Reservoir(10),
        Stratified({True: 0.1, False: 1.0, None: 0.5}, seed=1),
        Stratified({"llm.call": 0.5}, by="event_name", default=0.2),
        Adaptive(0.05, seed=9),
    ],
)
def test_specs_round_trip_through_json(spec: SamplingSpec) -> None:
    decoded = msgspec.json.decode(msgspec.json.encode(spec), type=type(spec))
    assert decoded == spec


def test_make_sampler_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match=r"expected Uniform, Reservoir, Stratified or Adaptive"):
        make_sampler(0.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- Uniform


def test_uniform_keeps_a_binomial_share() -> None:
    n, rate = 20_000, 0.3
    weights = decide_all(make_sampler(Uniform(rate, seed=11)), n)
    kept = sum(1 for weight in weights if weight)
    assert stats.binomtest(kept, n, rate).pvalue > ALPHA
    assert {weight for weight in weights} == {0.0, 1 / rate}


def test_uniform_decisions_are_those_of_today() -> None:
    """Seeded experiments keep the events they kept before sampling strategies."""
    rate, seed = 0.37, 5
    today = random.Random(seed)
    expected = [1 / rate if today.random() < rate else 0.0 for _ in range(1_000)]
    assert decide_all(make_sampler(Uniform(rate, seed=seed)), 1_000) == expected


def test_uniform_is_reproducible_and_seed_dependent() -> None:
    first = decide_all(make_sampler(Uniform(0.5, seed=1)), 500)
    again = decide_all(make_sampler(Uniform(0.5, seed=1)), 500)
    other = decide_all(make_sampler(Uniform(0.5, seed=2)), 500)
    assert first == again
    assert first != other


def test_uniform_edges() -> None:
    assert decide_all(make_sampler(Uniform(1.0)), 50) == [1.0] * 50
    assert decide_all(make_sampler(Uniform(0.0, seed=4)), 50) == [0.0] * 50
    assert make_sampler(Uniform(0.5)).current_weight() is None
    assert make_sampler(Uniform(0.5)).take_evicted() == []


def test_sampling_rate_metadata_is_uniform() -> None:
    metadata = {"owner": "ana", "sampling_rate": 0.2, "sampling_seed": 42}
    sampler = sampler_from_metadata(metadata)
    assert sampler is not None
    expected = decide_all(make_sampler(Uniform(0.2, seed=42)), 1_000)
    assert decide_all(sampler, 1_000) == expected


@pytest.mark.parametrize("metadata", [{}, {"sampling_rate": 1.0}, {"sampling_rate": 1}])
def test_complete_capture_needs_no_sampler(metadata: dict[str, Any]) -> None:
    assert sampler_from_metadata(metadata) is None


def test_sampling_rate_zero_keeps_nothing() -> None:
    sampler = sampler_from_metadata({"sampling_rate": 0})
    assert sampler is not None
    assert decide_all(sampler, 100) == [0.0] * 100


@pytest.mark.parametrize("rate", [-0.1, 1.5, math.nan, math.inf, "0.5", True, None])
def test_sampling_rate_metadata_validation(rate: object) -> None:
    with pytest.raises(
        ValueError, match=r"metadata\['sampling_rate'\] must be a number in \[0, 1\], got "
    ):
        sampler_from_metadata({"sampling_rate": rate})


@pytest.mark.parametrize("seed", ["7", 1.0, True])
def test_sampling_seed_metadata_validation(seed: object) -> None:
    with pytest.raises(TypeError, match=r"metadata\['sampling_seed'\] must be an int, got "):
        sampler_from_metadata({"sampling_rate": 0.5, "sampling_seed": seed})


# -------------------------------------------------------------------- Reservoir


def test_reservoir_keeps_each_event_with_probability_size_over_seen() -> None:
    """Chi-square goodness of fit of inclusion counts, midway and at the end."""
    size, n = 10, 100
    midway = np.zeros(n // 2, dtype=np.int64)
    final = np.zeros(n, dtype=np.int64)
    for seed in range(RUNS):
        sampler = make_sampler(Reservoir(size, seed=seed))
        assert isinstance(sampler, ReservoirSampler)
        decide_all(sampler, n // 2)
        midway[sampler.kept()] += 1
        decide_all(sampler, n - n // 2, start=n // 2)
        final[sampler.kept()] += 1
    for counts, seen in ((midway, n // 2), (final, n)):
        assert counts.sum() == RUNS * size
        result = stats.chisquare(counts, np.full(seen, RUNS * size / seen))
        assert result.pvalue > ALPHA, (seen, result)


def test_reservoir_subsets_are_equally_likely() -> None:
    """A uniform sample: each of the C(6, 3) subsets is kept equally often.

    Stronger than inclusion counts, which an off-by-one slot draw (the n-th
    event kept with probability size / (n - 1)) barely moves.
    """
    size, n, runs = 3, 6, 4_000
    subsets = {subset: 0 for subset in itertools.combinations(range(n), size)}
    for seed in range(runs):
        sampler = make_sampler(Reservoir(size, seed=seed))
        assert isinstance(sampler, ReservoirSampler)
        decide_all(sampler, n)
        subsets[tuple(sorted(sampler.kept()))] += 1
    counts = list(subsets.values())
    assert sum(counts) == runs
    assert stats.chisquare(counts).pvalue > ALPHA


@given(
    size=st.integers(1, 20),
    n=st.integers(0, 150),
    seed=st.integers(0, 2**32),
    batches=st.lists(st.integers(1, 40), max_size=5),
)
def test_reservoir_holds_min_of_size_and_seen(
    size: int, n: int, seed: int, batches: list[int]
) -> None:
    """A store that applies every eviction holds the sampler's kept events, always."""
    sampler = make_sampler(Reservoir(size, seed=seed))
    assert isinstance(sampler, ReservoirSampler)
    store: set[int] = set()
    handle = 0
    for count in [*batches, n]:
        handles = np.arange(handle, handle + count)
        if count % 2:
            weights = sampler.decide_batch(handles)
        else:
            weights = np.array(decide_all(sampler, count, start=handle))
        store |= {int(h) for h, w in zip(handles, weights, strict=True) if w > 0}
        for evicted in sampler.take_evicted():
            assert evicted in store
            store.remove(evicted)
        handle += count
        assert sampler.seen == handle
        assert len(store) == min(size, handle)
        assert store == set(sampler.kept())
        assert sampler.current_weight() == max(1.0, handle / size)


def test_reservoir_weights_sum_to_seen() -> None:
    sampler = make_sampler(Reservoir(8, seed=3))
    assert sampler.current_weight() == 1.0
    first = decide_all(sampler, 8)
    assert first == [1.0] * 8
    assert sampler.take_evicted() == []
    decide_all(sampler, 92, start=8)
    weight = sampler.current_weight()
    assert weight == 100 / 8
    assert weighted_count(np.full(8, weight)) == 100.0


# ------------------------------------------------------------ Stratified, Adaptive


def test_stratified_rates_by_key_and_default() -> None:
    spec = Stratified({False: 1.0, True: 0.25}, default=0.5, seed=8)
    keys = [False, True, None] * 4_000
    weights = decide_all(make_sampler(spec), len(keys), keys)
    by_key: dict[object, list[float]] = {False: [], True: [], None: []}
    for key, weight in zip(keys, weights, strict=True):
        by_key[key].append(weight)
    assert by_key[False] == [1.0] * 4_000
    assert set(by_key[True]) == {0.0, 4.0}
    assert set(by_key[None]) == {0.0, 2.0}
    for key, rate in ((True, 0.25), (None, 0.5)):
        kept = sum(1 for weight in by_key[key] if weight)
        assert stats.binomtest(kept, 4_000, rate).pvalue > ALPHA


def test_stratified_by_event_name_takes_tuples_and_dotted_names() -> None:
    sampler = make_sampler(Stratified({"llm.call": 0.5}, by="event_name", default=1.0, seed=2))
    assert sampler.by == "event_name"
    names: list[object] = [("llm", "call"), "llm.call", ("other",)] * 2_000
    weights = decide_all(sampler, len(names), names)
    assert set(weights[0::3]) == set(weights[1::3]) == {0.0, 2.0}
    assert weights[2::3] == [1.0] * 2_000


def test_stratified_unhashable_value_takes_the_default() -> None:
    sampler = make_sampler(Stratified({"a": 0.5}, by="route", default=1.0))
    assert sampler.by == "route"
    assert sampler.decide(1, ["not", "hashable"]) == 1.0
    assert sampler.decide(2, {"a": 1}) == 1.0


def test_uniform_and_reservoir_need_no_key() -> None:
    assert make_sampler(Uniform(0.5)).by is None
    assert make_sampler(Reservoir(3)).by is None
    assert make_sampler(Adaptive(0.5)).by is None
    assert make_sampler(Stratified({})).by == "success"


def test_adaptive_keeps_all_while_flagged_and_base_rate_otherwise() -> None:
    base_rate, n = 0.1, 20_000
    flags = [(i // 100) % 4 == 0 for i in range(n)]  # flagged runs of 100, a quarter
    weights = decide_all(make_sampler(Adaptive(base_rate, seed=6)), n, flags=flags)
    flagged = [w for w, flag in zip(weights, flags, strict=True) if flag]
    calm = [w for w, flag in zip(weights, flags, strict=True) if not flag]
    assert flagged == [1.0] * (n // 4)
    assert set(calm) == {0.0, 1 / base_rate}
    kept = sum(1 for weight in calm if weight)
    assert stats.binomtest(kept, len(calm), base_rate).pvalue > ALPHA


# ------------------------------------------------------------------- unbiasedness


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: Uniform(0.2, seed=seed),
        lambda seed: Stratified({False: 1.0, True: 0.1}, by="success", seed=seed),
        lambda seed: Adaptive(0.1, seed=seed),
    ],
    ids=["uniform", "stratified", "adaptive"],
)
def test_horvitz_thompson_is_unbiased(make: Any) -> None:
    values, successes = population()
    flags = [i % 50 < 10 for i in range(len(values))]
    totals, counts = [], []
    for seed in range(RUNS):
        weights = np.array(decide_all(make_sampler(make(seed)), len(values), successes, flags))
        kept = weights > 0
        totals.append(weighted_total(values[kept], weights[kept]))
        counts.append(weighted_count(weights[kept]))
    assert_unbiased(totals, math.fsum(values))
    assert_unbiased(counts, len(values))


def test_horvitz_thompson_is_unbiased_for_reservoir() -> None:
    values, _ = population()
    totals = []
    for seed in range(RUNS):
        sampler = make_sampler(Reservoir(20, seed=seed))
        assert isinstance(sampler, ReservoirSampler)
        decide_all(sampler, len(values))
        weight = sampler.current_weight()
        totals.append(weighted_total(values[sampler.kept()], np.full(20, weight)))
    assert_unbiased(totals, math.fsum(values))


# ------------------------------------------------- batches, copies, reproducibility

SPECS_LIST: list[SamplingSpec] = [
    Uniform(0.3),
    Uniform(1.0),
    Reservoir(5),
    Stratified({False: 1.0, True: 0.2}, default=0.6),
    Adaptive(0.25),
]
SPECS = st.sampled_from(SPECS_LIST)


@given(
    spec=SPECS,
    seed=st.integers(0, 2**64),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 300)), max_size=6),
    data=st.data(),
)
def test_batches_decide_as_events_one_by_one(
    spec: SamplingSpec, seed: int, steps: list[tuple[bool, int]], data: st.DataObject
) -> None:
    spec = msgspec.structs.replace(spec, seed=seed)
    total = sum(count for _, count in steps)
    keys = data.draw(
        st.lists(st.sampled_from([True, False, None]), min_size=total, max_size=total)
    )
    flags = data.draw(st.lists(st.booleans(), min_size=total, max_size=total))
    one_by_one = make_sampler(spec)
    expected = decide_all(one_by_one, total, keys, flags)
    mixed = make_sampler(spec)
    got: list[float] = []
    start = 0
    for batched, count in steps:
        end = start + count
        if batched:
            weights = mixed.decide_batch(
                np.arange(start, end), np.array(keys[start:end], dtype=object), flags[start:end]
            )
            assert weights.dtype == np.float64
            got += weights.tolist()
        else:
            got += decide_all(mixed, count, keys[start:end], flags[start:end], start)
        start = end
    assert got == expected
    assert mixed.take_evicted() == one_by_one.take_evicted()


@pytest.mark.parametrize("count", [0, 1, 127, 128, 8_192, 8_193, 20_000])
def test_vectorised_draws_are_those_of_random(count: int) -> None:
    """Bit for bit, and the generator ends in the same state."""
    vectorised, one_by_one = random.Random(9), random.Random(9)
    draws = _uniforms(vectorised, count)
    assert draws.tolist() == [one_by_one.random() for _ in range(count)]
    assert vectorised.getstate() == one_by_one.getstate()


@pytest.mark.parametrize("bool_keys", [True, False])
@pytest.mark.parametrize("spec", [msgspec.structs.replace(spec, seed=3) for spec in SPECS_LIST])
def test_large_batches_decide_as_events_one_by_one(spec: SamplingSpec, bool_keys: bool) -> None:
    """Batches long enough for the vectorised draws (in chunks) take the same decisions."""
    n = 20_000
    keys = [i % 3 != 0 for i in range(n)]
    flags = [i % 500 < 40 for i in range(n)]
    one_by_one = make_sampler(spec)
    expected = decide_all(one_by_one, 100, keys, flags)
    batched = make_sampler(spec)
    first = batched.decide_batch(range(100), keys[:100], flags[:100])
    expected += decide_all(one_by_one, n - 100, keys[100:], flags[100:], 100)
    column = np.array(keys[100:], dtype=bool if bool_keys else object)
    rest = batched.decide_batch(np.arange(100, n), column, np.array(flags[100:]))
    assert [*first.tolist(), *rest.tolist()] == expected
    assert batched.take_evicted() == one_by_one.take_evicted()


@pytest.mark.parametrize(
    "spec",
    [Uniform(0.3, 1), Reservoir(7, 1), Stratified({True: 0.2}, seed=1), Adaptive(0.4, 1)],
)
def test_a_copied_sampler_goes_on_deciding_alike(spec: SamplingSpec) -> None:
    """State handed from one actor incarnation to the next continues the same stream."""
    keys = [i % 3 == 0 for i in range(400)]
    flags = [i % 7 == 0 for i in range(400)]
    sampler = make_sampler(spec)
    decide_all(sampler, 200, keys, flags)
    pickled = pickle.loads(pickle.dumps(sampler))
    copied = copy.deepcopy(sampler)
    rest = decide_all(sampler, 200, keys[200:], flags[200:], 200)
    assert decide_all(pickled, 200, keys[200:], flags[200:], 200) == rest
    assert decide_all(copied, 200, keys[200:], flags[200:], 200) == rest
    assert pickled.take_evicted() == copied.take_evicted() == sampler.take_evicted()


def test_batch_sizes_must_match() -> None:
    sampler = make_sampler(Stratified({True: 0.5}))
    with pytest.raises(ValueError, match=r"3 handles but 2 keys"):
        sampler.decide_batch([1, 2, 3], [True, False])
    with pytest.raises(ValueError, match=r"3 handles but 4 flags"):
        sampler.decide_batch([1, 2, 3], None, [True] * 4)


# ------------------------------------------------------------------ estimators


def test_weighted_total_is_exactly_rounded() -> None:
    values = np.array([1e16, 1.0, -1e16, 3.0])
    weights = np.array([1.0, 2.0, 1.0, 0.5])
    assert weighted_total(values, weights) == 3.5
    assert weighted_count(np.array([0.1] * 10)) == 1.0
    assert weighted_total(np.array([]), np.array([])) == 0.0
    assert weighted_count(np.array([])) == 0.0


def test_weighted_total_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"3 values but 2 weights"):
        weighted_total(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"one-dimensional.*got shape \(2, 2\)"):
        weighted_count(np.ones((2, 2)))


@given(
    st.lists(
        st.tuples(st.floats(0, 1e6), st.floats(1.0, 1e3)),
        max_size=50,
    )
)
def test_weighted_total_matches_exact_fractions(pairs: list[tuple[float, float]]) -> None:
    from fractions import Fraction

    values = np.array([value for value, _ in pairs], dtype=np.float64)
    weights = np.array([weight for _, weight in pairs], dtype=np.float64)
    exact = sum((Fraction(float(v * w)) for v, w in zip(values, weights, strict=True)), Fraction())
    assert weighted_total(values, weights) == float(exact)
