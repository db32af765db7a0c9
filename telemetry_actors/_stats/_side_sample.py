"""What one side of a comparison hands to the statistics: its values and counts."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SideSample:
    """One side's numbers, as the store hands them over.

    Arrays are copied into float64 when the sample is made, and checked.

    Attributes:
        latency: ``latency_ms`` of the events that have one.
        cost: ``cost_usd`` of the events that have one.
        latency_keys: For paired tests: the pairing key of each latency value
            (same length; ``None`` for an event without the key).
        cost_keys: The same for the cost values.
        successes: Events whose ``success`` is ``True``.
        total: Events whose ``success`` is a bool.
        events: Optional count of all the side's events, so that the warnings
            can say how many had no latency or no cost.

    Raises:
        ValueError: A value is not finite, an array is not 1-D, the keys do not
            match the values, or the counts are inconsistent.
        TypeError: A count is not an int.
    """

    latency: FloatArray
    cost: FloatArray
    latency_keys: Sequence[Hashable] | None = None
    cost_keys: Sequence[Hashable] | None = None
    successes: int = 0
    total: int = 0
    events: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "cost"):
            values = column(name, getattr(self, name))
            object.__setattr__(self, name, values)
            keys = getattr(self, f"{name}_keys")
            if keys is not None and len(keys) != values.size:
                raise ValueError(
                    f"{name}_keys has {len(keys)} keys for {values.size} {name} values"
                )
        total = count("total", self.total)
        successes = count("successes", self.successes)
        if successes > total:
            raise ValueError(f"successes must be between 0 and total ({total}), got {successes}")
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "successes", successes)
        if self.events is not None:
            events = count("events", self.events)
            largest = max((self.latency.size, "latency"), (self.cost.size, "cost"))
            if events < largest[0]:
                raise ValueError(
                    f"events ({events}) is fewer than the {largest[0]} {largest[1]} values"
                )
            object.__setattr__(self, "events", events)


def column(name: str, values: Any) -> FloatArray:
    """``values`` copied into a 1-D float64 array of finite numbers, or ValueError. O(n)."""
    try:
        column = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold numbers: {error}") from None
    if column.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {column.shape}")
    bad = int(np.count_nonzero(~np.isfinite(column)))
    if bad:
        raise ValueError(f"{name} holds {bad} non-finite values (NaN or infinite)")
    return column


def describe(value: object) -> str:
    """A value for an error message: its type and repr, e.g. ``str '7'``."""
    return f"{type(value).__name__} {value!r}"


def count(name: str, value: object) -> int:
    """``value`` as an int, checked: an integer (numpy ones too, not bool), not negative."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return int(value)
