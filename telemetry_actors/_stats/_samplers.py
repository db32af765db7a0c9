"""Samplers: the mutable state of one experiment that decides each collected event.

See :mod:`._sampling` for how the actor calls them and why random draws
come from ``random.Random``.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._sampling_specs import Adaptive, Reservoir, Stratified, Uniform, Weights, _pairs


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
