"""scipy, the optional dependency of the tests: imported on first use, run quietly.

scipy ships no type information, so it is reached through ``importlib`` and
typed ``Any``: mypy stays strict here whether or not stubs are installed.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

MISSING_SCIPY = "significance() needs scipy: pip install 'telemetry-actors[stats]'"


def scipy_stats() -> Any:
    """``scipy.stats``, imported now (the first call costs ~0.3 s, later ones O(1)).

    Raises:
        ImportError: scipy is not installed; the message says what to install.
    """
    try:
        return importlib.import_module("scipy.stats")
    except ImportError as error:
        raise ImportError(MISSING_SCIPY) from error


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy floating-point and scipy warnings inside the block.

    Degenerate samples make scipy warn and return NaN; we report those cases
    as ``None`` plus a sentence of our own, so no warning may escape to the
    caller. ``np.errstate`` is per thread; ``warnings.catch_warnings`` swaps
    the process-wide filters for the duration of the block (before Python
    3.14 it is not thread-safe, so other threads may miss warnings meanwhile).
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is NaN or infinite."""
    number = float(value)
    return number if math.isfinite(number) else None


def attempt(test: str, call: Callable[[], Any], notes: list[str], prefix: str) -> float | None:
    """Run one scipy computation; NaN, infinity or an error become ``None`` and a note.

    Args:
        test: What is computed, for the note ("the Mann-Whitney test").
        call: Returns the number (a p-value, an interval end).
        notes: Where the explanation goes when there is no number.
        prefix: The metric the note is about ("latency").

    Returns:
        The finite float, or ``None``. Costs whatever ``call`` costs.
    """
    try:
        with quiet():
            value = finite(call())
    except (ValueError, ArithmeticError) as error:
        notes.append(f"{prefix}: {test} failed ({error}); it is left out")
        return None
    if value is None:
        notes.append(f"{prefix}: {test} has no finite value for these samples; it is left out")
    return value
