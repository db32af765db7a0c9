"""Sampling strategies: which collected events an experiment stores, and their weights.

A spec (:class:`Uniform`, :class:`Reservoir`, :class:`Stratified`,
:class:`Adaptive`) is a frozen, hashable ``msgspec.Struct`` that says what to
do; :func:`make_sampler` turns it into a :class:`Sampler`, the mutable state
of one experiment that decides each collected event in arrival order.

Every kept event gets a ``sampling_weight``: 1 / the probability it was kept
(1.0 when it was sure to be kept). Weighted counts and totals over the kept
events are then Horvitz-Thompson estimates of those over every collected
event (:func:`weighted_count`, :func:`weighted_total`). The weight of an
event of :class:`Uniform`, :class:`Stratified` and :class:`Adaptive` is fixed
when it is kept; under :class:`Reservoir` every kept event has the same weight
``seen / size``, which grows as events arrive, so readers ask
:meth:`Sampler.current_weight` at read time rather than trust a stored one.

How the actor calls a sampler, per event (``decide = sampler.decide`` bound
once per batch)::

    weight = decide(serial, key, flagged)  # 0.0: sampled out, else keep
    # key: the event's value of the field named by ``sampler.by`` (None when
    # ``sampler.by`` is None); flagged: Adaptive only, anomaly detection
    # flagged an event in the last ``window`` events.
    for serial in sampler.take_evicted():  # Reservoir only, else always []
        ...  # remove that previously kept event from the store

or a whole batch at once with :meth:`Sampler.decide_batch`, which takes the
same decisions, from the same random stream, as the same events one by one.

Random draws come from ``random.Random(seed)``: about 20 ns per draw against
about 230 ns for a scalar from numpy's ``default_rng``, and batches reproduce
its stream exactly (see :func:`_uniforms`). One draw is taken per event whose
probability of being kept is below 1, so ``Uniform(r, seed)`` keeps exactly
the events that ``metadata={"sampling_rate": r, "sampling_seed": seed}``
always kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ._samplers import AdaptiveSampler as AdaptiveSampler
from ._samplers import ReservoirSampler as ReservoirSampler
from ._samplers import Sampler as Sampler
from ._samplers import StratifiedSampler as StratifiedSampler
from ._samplers import UniformSampler as UniformSampler
from ._sampling_specs import Adaptive as Adaptive
from ._sampling_specs import Reservoir as Reservoir
from ._sampling_specs import SamplingSpec as SamplingSpec
from ._sampling_specs import Stratified as Stratified
from ._sampling_specs import Uniform as Uniform
from ._sampling_specs import _described


def make_sampler(spec: SamplingSpec) -> Sampler:
    """The fresh sampling state for ``spec``, one per experiment.

    Raises:
        TypeError: ``spec`` is not a sampling spec.
    """
    if isinstance(spec, Uniform):
        return UniformSampler(spec)
    if isinstance(spec, Reservoir):
        return ReservoirSampler(spec)
    if isinstance(spec, Stratified):
        return StratifiedSampler(spec)
    if isinstance(spec, Adaptive):
        return AdaptiveSampler(spec)
    raise TypeError(f"expected Uniform, Reservoir, Stratified or Adaptive, got {_described(spec)}")


def sampler_from_metadata(metadata: Mapping[str, Any]) -> Sampler | None:
    """The sampler of ``metadata["sampling_rate"]`` (seed ``metadata["sampling_seed"]``).

    The rule experiments have always had: each event is kept with probability
    ``sampling_rate`` (default 1.0), as ``Uniform(rate, seed)``.

    Returns:
        None for complete capture (rate 1.0): there is nothing to decide.

    Raises:
        ValueError: a rate that is not a number in [0, 1].
        TypeError: a seed that is not an int.
    """
    rate = metadata.get("sampling_rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"metadata['sampling_rate'] must be a number in [0, 1], got {rate!r}")
    seed = metadata.get("sampling_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"metadata['sampling_seed'] must be an int, got {seed!r}")
    if rate == 1.0:
        return None
    return UniformSampler(Uniform(float(rate), seed))


# ------------------------------------------------------------------ estimators


def _column(label: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{label} must be one-dimensional, got shape {array.shape}")
    return array


def weighted_count(weights: npt.ArrayLike) -> float:
    """The Horvitz-Thompson estimate of how many events were collected: sum of weights.

    Pass the weights of the kept events (under Reservoir, ``current_weight()``
    for each). The sum is exactly rounded (``math.fsum``). Its variance under
    independent draws (Uniform, Stratified, Adaptive) is sum of (1 - p) / p
    over collected events, estimated by sum of w · (w - 1) over kept ones;
    under Reservoir the count is exact (size · seen / size = seen).

    Raises:
        ValueError: ``weights`` is not one-dimensional.

    Cost: O(n).
    """
    return math.fsum(_column("weights", weights).tolist())


def weighted_total(values: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """The Horvitz-Thompson estimate of a total: the sum of value x weight.

    The float64 products are summed exactly rounded (``math.fsum``). The
    estimate is unbiased: E[sum over kept of y / p] = sum over all of y.
    Its variance, not computed here: under independent draws (Uniform,
    Stratified, Adaptive) sum of (1 - p) / p · y² over collected events,
    estimated without bias by sum of w · (w - 1) · y² over kept ones; under
    Reservoir (simple random sampling of k from N) N² (1 - k / N) S² / k, S²
    the population variance, estimated by the kept values' sample variance.

    Example:
        >>> weighted_total(np.array([2.0, 3.0]), np.array([10.0, 10.0]))
        50.0

    Raises:
        ValueError: arrays that are not one-dimensional or differ in length.

    Cost: O(n).
    """
    value_column, weight_column = _column("values", values), _column("weights", weights)
    if len(value_column) != len(weight_column):
        raise ValueError(
            f"weighted_total takes {len(value_column)} values but {len(weight_column)} weights"
        )
    return math.fsum((value_column * weight_column).tolist())
