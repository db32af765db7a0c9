"""Sampling specs: what a ``start_experiment(sampling=...)`` asks for, validated.

Frozen, hashable ``msgspec.Struct`` classes; :mod:`._samplers` holds the
state that carries them out, :mod:`._sampling` the factory and estimators.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
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
