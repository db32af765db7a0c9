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
import random
import reprlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import msgspec
import numpy as np
import numpy.typing as npt

Weights: TypeAlias = npt.NDArray[np.float64]

# ------------------------------------------------------------------ validation


def _described(value: object) -> str:
    """A value for an error message: its type and a short repr."""
    if value is None:
        return "None"
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _probability(label: str, value: object, *, zero_allowed: bool) -> float:
    """``value`` as a float in [0, 1] (or (0, 1] unless ``zero_allowed``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{label} must be a number, got {_described(value)}")
    in_range = (0 <= value <= 1) if zero_allowed else (0 < value <= 1)  # False for NaN
    if not in_range:
        interval = "[0, 1]" if zero_allowed else "(0, 1]"
        raise ValueError(f"{label} must be in {interval}, got {value!r}")
    return float(value)


def _seed(label: str, value: object) -> None:
    """Refuse a seed that is neither an int nor None."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{label} must be an int or None, got {_described(value)}")


# ----------------------------------------------------------------------- specs


class Uniform(msgspec.Struct, frozen=True):
    """Keep each event with probability ``rate``, independently; weight ``1 / rate``.

    ``rate`` 0 is allowed, as ``metadata["sampling_rate"]`` always allowed it:
    no event is kept, so no weight is ever handed out (and nothing can be
    estimated). ``Uniform(1.0)`` keeps every event with weight 1.0.

    Raises:
        TypeError: ``rate`` is not a number or ``seed`` not an int or None.
        ValueError: ``rate`` is outside [0, 1] (or NaN).
    """

    rate: float
    seed: int | None = None

    def __post_init__(self) -> None:
        rate = _probability("Uniform rate", self.rate, zero_allowed=True)
        _seed("Uniform seed", self.seed)
        msgspec.structs.force_setattr(self, "rate", rate)


class Reservoir(msgspec.Struct, frozen=True):
    """Keep a uniform random sample of at most ``size`` of the events so far (Algorithm R).

    Raises:
        TypeError: ``size`` is not an int or ``seed`` not an int or None.
        ValueError: ``size`` < 1.
    """

    size: int
    seed: int | None = None

    def __post_init__(self) -> None:
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"Reservoir size must be an int, got {_described(size)}")
        if size < 1:
            raise ValueError(f"Reservoir size must be >= 1, got {size}")
        _seed("Reservoir seed", self.seed)


class Stratified(msgspec.Struct, frozen=True):
    """Keep each event with the rate of its value of ``by``; ``default`` for other values.

    ``by`` names a field of the stored event (``"success"``, ``"model"``,
    ``"provider"``, ``"event_name"``, ``"condition"``, …) or else a metadata
    key. ``rates`` is given as a mapping ``{value: rate}`` (or pairs) and kept
    as a tuple of ``(value, rate)`` pairs sorted by ``repr(value)``, so that
    the spec stays frozen and hashable and equal mappings give equal specs.
    Under ``by="event_name"`` values are stored as dotted names
    (``("llm", "call")`` becomes ``"llm.call"``).

    Example:
        >>> Stratified({True: 0.1, False: 1.0}).rates
        ((False, 1.0), (True, 0.1))

    Raises:
        TypeError: a rate that is not a number, an unhashable value, ``rates``
            not a mapping or pairs, ``by`` not a str, a bad ``seed``.
        ValueError: a rate or ``default`` outside (0, 1], a value named twice,
            an empty ``by``, a ``success`` value other than True, False, None.
    """

    rates: Mapping[Any, float] | tuple[tuple[Any, float], ...]
    by: str = "success"
    default: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        by = self.by
        if not isinstance(by, str):
            raise TypeError(f"Stratified by must be a str, got {_described(by)}")
        if not by:
            raise ValueError(
                "Stratified by must be a non-empty str: an Event field or metadata key"
            )
        default = _probability("Stratified default", self.default, zero_allowed=False)
        _seed("Stratified seed", self.seed)
        rates: dict[Any, float] = {}
        for key, rate in _pairs(self.rates):
            key = _stratum_key(by, key)
            if key in rates:
                raise ValueError(f"Stratified rates name the key {key!r} twice")
            rates[key] = _probability(f"Stratified rates[{key!r}]", rate, zero_allowed=False)
        pairs = tuple(sorted(rates.items(), key=lambda pair: repr(pair[0])))
        msgspec.structs.force_setattr(self, "rates", pairs)
        msgspec.structs.force_setattr(self, "default", default)


def _pairs(rates: object) -> Iterable[tuple[Any, Any]]:
    """The (key, rate) pairs of a mapping or a sequence of pairs."""
    if isinstance(rates, Mapping):
        return list(rates.items())
    if not isinstance(rates, tuple | list):
        raise TypeError(
            f"Stratified rates must be a mapping {{value: rate}} or pairs (key, rate), "
            f"got {_described(rates)}"
        )
    for pair in rates:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(
                f"Stratified rates must hold pairs (key, rate), got {_described(pair)}"
            )
    return [(key, rate) for key, rate in rates]


def _stratum_key(by: str, key: object) -> object:
    """A rate's key as stored: checked against ``by``, event names dotted."""
    if by == "success":
        if key is not True and key is not False and key is not None:
            raise ValueError(
                f"Stratified rates by 'success' take keys True, False or None, got {key!r}"
            )
        return key
    if by == "event_name":
        if isinstance(key, tuple) and key and all(isinstance(part, str) for part in key):
            return ".".join(key)
        if isinstance(key, str) and key:
            return key
        raise TypeError(
            "Stratified rates by 'event_name' take event names (a dotted str or a tuple "
            f"of str), got {_described(key)}"
        )
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"Stratified rates: unhashable key {reprlib.repr(key)}") from None
    return key


class Adaptive(msgspec.Struct, frozen=True):
    """Keep every event while anomaly detection is flagging, ``base_rate`` otherwise.

    "Flagging" means an event was flagged in the last ``window`` events of the
    experiment's anomaly detection; the actor works that out and passes it as
    ``flagged``. Events kept while flagging weigh 1.0, others ``1 / base_rate``.
    The flag depends only on earlier events, so the weights stay unbiased.

    Raises:
        TypeError: ``base_rate`` is not a number or ``seed`` not an int or None.
        ValueError: ``base_rate`` is outside (0, 1].
    """

    base_rate: float
    seed: int | None = None

    def __post_init__(self) -> None:
        rate = _probability("Adaptive base_rate", self.base_rate, zero_allowed=False)
        _seed("Adaptive seed", self.seed)
        msgspec.structs.force_setattr(self, "base_rate", rate)


#: What ``start_experiment(..., sampling=…)`` takes.
SamplingSpec: TypeAlias = Uniform | Reservoir | Stratified | Adaptive


# -------------------------------------------------------------------- samplers


def _uniforms(generator: random.Random, count: int) -> Weights:
    """``count`` floats equal to ``count`` successive ``generator.random()`` calls.

    CPython's ``random()`` is ``(a >> 5) * 2**26 + (b >> 6)`` over ``2**53`` for
    two successive 32-bit Mersenne Twister words ``a``, ``b``, and
    ``getrandbits(64 * m)`` returns ``2 * m`` successive words, the first least
    significant. Rebuilding the floats from those words in numpy takes about
    13 ns per draw (against 20 ns per ``random()`` call), and batches stay
    interchangeable with per-event calls (a test checks this equality).
    """
    if count < _FEW:  # numpy's fixed cost per call exceeds the draws' cost
        draw = generator.random
        return np.array([draw() for _ in range(count)], dtype=np.float64)
    draws = np.empty(count, dtype=np.float64)
    for start in range(0, count, _CHUNK):
        size = min(_CHUNK, count - start)
        data = generator.getrandbits(64 * size).to_bytes(8 * size, "little")
        words = np.frombuffer(data, dtype="<u4")
        # Exact in float64, as in C: both terms and their sum are below 2**53.
        mantissas = (words[0::2] >> 5) * 67108864.0 + (words[1::2] >> 6)
        draws[start : start + size] = mantissas * (1.0 / 9007199254740992.0)
    return draws


#: Draws per ``getrandbits`` call, small enough that the int and the numpy
#: temporaries stay in cache (one call for 200,000 draws costs twice as much).
_CHUNK = 8192
#: Fewer draws than this are taken one ``random()`` call at a time.
_FEW = 128


def _poisson_weights(generator: random.Random, probabilities: Weights) -> Weights:
    """Keep each event with its probability: weights 1 / p, 0.0 for sampled out.

    Draws once per probability below 1, in order, as the per-event decisions do.
    """
    weights = np.ones(len(probabilities), dtype=np.float64)
    drawn = probabilities < 1.0
    count = int(np.count_nonzero(drawn))
    if count:
        rates = probabilities[drawn]
        kept = _uniforms(generator, count) < rates
        chosen = np.zeros(count, dtype=np.float64)
        chosen[kept] = 1.0 / rates[kept]  # never 1 / 0: nothing is kept at rate 0
        weights[drawn] = chosen
    return weights


class Sampler(ABC):
    """The sampling state of one experiment: decides each collected event, in arrival order.

    Copyable and picklable (the state is plain attributes and a
    ``random.Random``), so it can be handed from one actor incarnation to the
    next and continue the same random stream.

    Attributes:
        by: the field (or metadata key) whose value the caller passes as
            ``key``; None when decisions need no key.
    """

    __slots__ = ("_random",)

    by: str | None = None

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)

    @abstractmethod
    def decide(self, handle: int, key: object = None, flagged: bool = False) -> float:
        """Decide one event: its ``sampling_weight`` if kept, 0.0 if sampled out.

        Args:
            handle: the caller's id of the event (e.g. its arrival serial);
                Reservoir reports evicted events by it.
            key: the event's value of the field named by :attr:`by`.
            flagged: anomaly detection flagged an event in the last ``window``
                events (Adaptive only).

        Cost: O(1); beyond the call itself (about 15 ns), about 40 ns for
        Uniform and Adaptive, 60 ns for Stratified and 110 ns for Reservoir
        (``bench/sampling.py``).
        """

    def decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None = None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None = None,
    ) -> Weights:
        """Decide a batch of events: the weights :meth:`decide` gives one by one.

        The same decisions from the same random stream as calling
        :meth:`decide` per event, so batches and single events mix freely.

        Returns:
            float64 weights, one per handle; 0.0 for sampled-out events.

        Raises:
            ValueError: ``keys`` or ``flagged`` is not as long as ``handles``.

        Cost: O(n); at 200,000 events, about 30 ns per event for Uniform,
        Adaptive and Stratified over a bool array of keys, 75 ns for
        Stratified over other keys (a dict lookup each, in Python) and 100 ns
        for Reservoir (a Python loop): against 70 to 140 ns one by one.
        """
        count = len(handles)
        for label, values in (("keys", keys), ("flags", flagged)):
            if values is not None and len(values) != count:
                raise ValueError(f"decide_batch got {count} handles but {len(values)} {label}")
        return self._decide_batch(handles, keys, flagged)

    @abstractmethod
    def _decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None,
    ) -> Weights:
        """:meth:`decide_batch` once the lengths are checked."""

    def take_evicted(self) -> list[int]:
        """Handles of kept events evicted since the last call, oldest first.

        Only Reservoir evicts; the list may name events kept in the same batch.
        """
        return []

    def current_weight(self) -> float | None:
        """The weight every kept event has now, or None when weights are per event.

        Only Reservoir's weights change after an event is kept; readers use
        this, not the weight stored with the event, when it is not None.
        """
        return None


class UniformSampler(Sampler):
    """Decides :class:`Uniform`: one draw per event when ``rate`` < 1."""

    __slots__ = ("rate", "weight")

    def __init__(self, spec: Uniform) -> None:
        super().__init__(spec.seed)
        self.rate = spec.rate
        self.weight = 1.0 / spec.rate if spec.rate > 0 else math.inf

    def decide(self, handle: int, key: object = None, flagged: bool = False) -> float:
        rate = self.rate
        if rate >= 1.0:
            return 1.0
        return self.weight if self._random.random() < rate else 0.0

    def _decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None,
    ) -> Weights:
        return _poisson_weights(self._random, np.full(len(handles), self.rate))


class StratifiedSampler(Sampler):
    """Decides :class:`Stratified`: a dict lookup, then one draw when the rate < 1.

    Keys that cannot be hashed (a list in metadata) take the default rate.
    Under ``by="event_name"`` both the name tuple and the dotted name match.
    """

    __slots__ = ("by", "default", "rates")

    def __init__(self, spec: Stratified) -> None:
        super().__init__(spec.seed)
        self.by = spec.by
        self.default = spec.default
        self.rates: dict[object, float] = dict(_pairs(spec.rates))
        if spec.by == "event_name":
            for name, rate in list(self.rates.items()):
                self.rates[tuple(str(name).split("."))] = rate

    def decide(self, handle: int, key: object = None, flagged: bool = False) -> float:
        try:
            rate = self.rates.get(key, self.default)
        except TypeError:  # an unhashable value
            rate = self.default
        if rate >= 1.0:
            return 1.0
        return 1.0 / rate if self._random.random() < rate else 0.0

    def _decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None,
    ) -> Weights:
        rates, default = self.rates, self.default
        if isinstance(keys, np.ndarray) and keys.dtype == np.bool_:
            # A bool column (success without None): two lookups, not one per event.
            yes, no = self._rate(True), self._rate(False)
            return _poisson_weights(self._random, np.where(keys, yes, no))
        if keys is None:
            keys = [None] * len(handles)
        elif isinstance(keys, np.ndarray):
            keys = keys.tolist()  # numpy scalars to Python values: faster lookups
        try:
            probabilities = [rates.get(key, default) for key in keys]
        except TypeError:  # an unhashable value somewhere: look up one by one
            probabilities = [self._rate(key) for key in keys]
        return _poisson_weights(self._random, np.array(probabilities, dtype=np.float64))

    def _rate(self, key: object) -> float:
        try:
            return self.rates.get(key, self.default)
        except TypeError:
            return self.default


class AdaptiveSampler(Sampler):
    """Decides :class:`Adaptive`: weight 1.0 while flagged, else one draw at ``base_rate``."""

    __slots__ = ("base_rate", "weight")

    def __init__(self, spec: Adaptive) -> None:
        super().__init__(spec.seed)
        self.base_rate = spec.base_rate
        self.weight = 1.0 / spec.base_rate

    def decide(self, handle: int, key: object = None, flagged: bool = False) -> float:
        if flagged:
            return 1.0
        rate = self.base_rate
        if rate >= 1.0:
            return 1.0
        return self.weight if self._random.random() < rate else 0.0

    def _decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None,
    ) -> Weights:
        if flagged is None:
            probabilities = np.full(len(handles), self.base_rate)
        else:
            probabilities = np.where(np.asarray(flagged, dtype=bool), 1.0, self.base_rate)
        return _poisson_weights(self._random, probabilities)


class ReservoirSampler(Sampler):
    """Decides :class:`Reservoir` by Algorithm R.

    The first ``size`` events are kept. The n-th event after them replaces the
    kept event in a uniformly drawn slot ``j`` of ``range(n)`` when ``j <
    size``, so it is kept with probability size / n and, at every moment, the
    kept events are a uniform random sample of ``min(size, seen)`` of the
    ``seen`` events. ``j`` is drawn exactly (rejection on ``getrandbits``),
    not as ``int(random() * n)``, which favours some slots for large n.

    Every kept event weighs :meth:`current_weight` = max(1, seen / size); the
    weight :meth:`decide` returns is that of the moment it was kept.
    Memory: O(size) handles, plus evictions not yet taken.
    """

    __slots__ = ("_evicted", "_kept", "seen", "size")

    def __init__(self, spec: Reservoir) -> None:
        super().__init__(spec.seed)
        self.size = spec.size
        self.seen = 0
        self._kept: list[int] = []
        self._evicted: list[int] = []

    def decide(self, handle: int, key: object = None, flagged: bool = False) -> float:
        seen = self.seen = self.seen + 1
        size = self.size
        if seen <= size:
            self._kept.append(handle)
            return 1.0
        getrandbits = self._random.getrandbits
        bits = seen.bit_length()
        slot = getrandbits(bits)
        while slot >= seen:  # fewer than 2 draws on average
            slot = getrandbits(bits)
        if slot >= size:
            return 0.0
        kept = self._kept
        self._evicted.append(kept[slot])
        kept[slot] = handle
        return seen / size

    def _decide_batch(
        self,
        handles: Sequence[int] | npt.NDArray[np.integer[Any]],
        keys: Sequence[object] | npt.NDArray[Any] | None,
        flagged: Sequence[bool] | npt.NDArray[np.bool_] | None,
    ) -> Weights:
        # decide() inlined by hand (about 40 ns less per event); the same
        # decisions, which a test checks.
        plain = handles.tolist() if isinstance(handles, np.ndarray) else handles
        weights = np.zeros(len(plain), dtype=np.float64)
        positions: list[int] = []
        chosen: list[float] = []
        seen, size, kept, evicted = self.seen, self.size, self._kept, self._evicted
        getrandbits = self._random.getrandbits
        for position, handle in enumerate(plain):
            seen += 1
            if seen <= size:
                kept.append(handle)
                positions.append(position)
                chosen.append(1.0)
                continue
            bits = seen.bit_length()
            slot = getrandbits(bits)
            while slot >= seen:
                slot = getrandbits(bits)
            if slot < size:
                evicted.append(kept[slot])
                kept[slot] = handle
                positions.append(position)
                chosen.append(seen / size)
        self.seen = seen
        weights[positions] = chosen
        return weights

    def take_evicted(self) -> list[int]:
        evicted, self._evicted = self._evicted, []
        return evicted

    def current_weight(self) -> float:
        return max(1.0, self.seen / self.size)

    def kept(self) -> list[int]:
        """The handles of the kept events, in slot order. O(size)."""
        return list(self._kept)


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
