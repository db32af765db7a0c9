"""Token prices used to derive ``cost_usd`` from token counts."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._types import PricingTable

#: USD per 1M (input, output) tokens.
BUILTIN_PRICING: dict[str, tuple[float, float]] = {
    "gemini-2.0-flash-exp": (0.075, 0.30),
    "gpt-4": (30.0, 60.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "claude-3-opus": (15.0, 75.0),
    "claude-3-sonnet": (3.0, 15.0),
}

#: Rates for a model the table does not know.
UNKNOWN_MODEL_RATES: tuple[float, float] = (1.0, 2.0)


def merge_pricing(overrides: PricingTable | None) -> dict[str, tuple[float, float]]:
    """The built-in table with ``overrides`` merged over it.

    Raises:
        TypeError: ``overrides`` is not a mapping of str to a pair of numbers.
        ValueError: a rate is negative, NaN or infinite.
    """
    table = dict(BUILTIN_PRICING)
    if overrides is None:
        return table
    if not isinstance(overrides, Mapping):
        raise TypeError(f"pricing must be a mapping, got {type(overrides).__name__}")
    for model, rates in overrides.items():
        if not isinstance(model, str):
            raise TypeError(f"pricing keys must be model names (str), got {model!r}")
        if not (isinstance(rates, tuple | list) and len(rates) == 2):
            raise TypeError(
                f"pricing[{model!r}] must be (usd_per_1M_input, usd_per_1M_output), got {rates!r}"
            )
        pair: list[float] = []
        for rate in rates:
            if isinstance(rate, bool) or not isinstance(rate, int | float):
                raise TypeError(f"pricing[{model!r}] rates must be numbers, got {rate!r}")
            if not math.isfinite(rate) or rate < 0:
                raise ValueError(f"pricing[{model!r}] rates must be finite and >= 0, got {rate!r}")
            pair.append(float(rate))
        table[model] = (pair[0], pair[1])
    return table
