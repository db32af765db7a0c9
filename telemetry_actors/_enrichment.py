"""Turning an emitted (name, measurements, metadata, timestamp) into an :class:`Event`.

Every derivation is total: a value of the wrong type, NaN or infinity gives
``None`` for the derived field, and the event is still stored whole. Nothing a
caller emits can make this module raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._event import Event, new_event_id
from ._pricing import UNKNOWN_MODEL_RATES
from ._types import EventName

_PROMPT_KEYS = ("prompt", "prompt_tokens", "input_tokens")
_COMPLETION_KEYS = ("completion", "completion_tokens", "output_tokens")
_TOTAL_KEYS = ("total", "total_tokens")
_COPIED_KEYS = ("session_id", "user_id", "sample_id", "cohort", "model", "provider")
_MISSING: Any = object()


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a finite int/float (not bool), else None."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def latency_ms(measurements: Mapping[str, Any]) -> float | None:
    """``duration`` (ns) / 1e6, else (``stop`` - ``start``) / 1e6, else None."""
    duration = measurements.get("duration", _MISSING)
    if duration is not _MISSING:
        nanoseconds = finite_number(duration)
        return None if nanoseconds is None else nanoseconds / 1e6
    start = finite_number(measurements.get("start"))
    stop = finite_number(measurements.get("stop"))
    if start is None or stop is None:
        return None
    elapsed = (stop - start) / 1e6
    return elapsed if math.isfinite(elapsed) else None


def _token_count(value: object) -> float | None:
    # Keep ints as ints so token totals read 5500, not 5500.0.
    if type(value) is int:
        return value
    return finite_number(value)


_INVALID: Any = object()


def _first_count(tokens: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    # The first alias present decides: its count, or _INVALID for an unusable value.
    for key in keys:
        value = tokens.get(key, _MISSING)
        if value is not _MISSING:
            count = _token_count(value)
            return _INVALID if count is None else count
    return None


def token_counts(metadata: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(prompt, completion, total) from ``metadata["tokens"]``, or None.

    Accepts ``prompt``/``completion``/``total``, ``prompt_tokens``/… and
    ``input_tokens``/``output_tokens``; a missing part counts as 0 and a
    missing total is prompt + completion. None when there is no count, or when
    any count given is of the wrong type, NaN or infinite.
    """
    tokens = metadata.get("tokens")
    if tokens is None or not (type(tokens) is dict or isinstance(tokens, Mapping)):
        return None
    prompt = _first_count(tokens, _PROMPT_KEYS)
    completion = _first_count(tokens, _COMPLETION_KEYS)
    total = _first_count(tokens, _TOTAL_KEYS)
    if _INVALID in (prompt, completion, total):
        return None
    if prompt is None and completion is None and total is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    return prompt, completion, total if total is not None else prompt + completion


def cost_usd(
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
    pricing: Mapping[str, tuple[float, float]],
) -> float | None:
    """``metadata["cost"]``, else priced tokens, else ``measurements["cost"]``.

    The first source that is present decides; an unusable value gives None.
    Tokens are priced only when ``metadata["model"]`` is a str (unknown models
    at the default rates).
    """
    cost = metadata.get("cost", _MISSING)
    if cost is not _MISSING:
        return finite_number(cost)
    model = metadata.get("model")
    if isinstance(model, str) and "tokens" in metadata:
        counts = token_counts(metadata)
        if counts is None:
            return None
        input_rate, output_rate = pricing.get(model, UNKNOWN_MODEL_RATES)
        return (counts[0] * input_rate + counts[1] * output_rate) / 1_000_000
    cost = measurements.get("cost", _MISSING)
    if cost is not _MISSING:
        return finite_number(cost)
    return None


def success(measurements: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool | None:
    """False on a truthy ``error``/``exception``; else from ``status``; else ``response``."""
    if metadata.get("error") or metadata.get("exception"):
        return False
    status = measurements.get("status")
    if isinstance(status, str):
        if status == "ok":
            return True
        if status == "error":
            return False
    if metadata.get("response") is not None:
        return True
    return None


def _guarded(derive: Any, *args: Any) -> Any:
    # A caller's value may raise from __bool__, __eq__ or __hash__; such a value
    # makes its derived field None instead of crashing the actor.
    try:
        return derive(*args)
    except Exception:
        return None


def _copied(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    if fields is None:
        return {}
    try:
        return dict(fields)
    except Exception:
        # A Mapping whose iteration fails: keep what can be read.
        return {}


class Enricher:
    """Builds events for one experiment (its context, its pricing table)."""

    __slots__ = ("condition", "experiment_id", "experiment_name", "pricing", "tags")

    def __init__(
        self,
        experiment_id: str,
        experiment_name: str,
        condition: str,
        tags: tuple[str, ...],
        pricing: Mapping[str, tuple[float, float]],
    ) -> None:
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self.condition = condition
        self.tags = tags
        self.pricing = pricing

    def enrich(
        self,
        name: EventName,
        measurements: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        timestamp: int,
    ) -> Event:
        """Build the stored :class:`Event` for one emitted event. Never raises."""
        measured = _copied(measurements)
        meta = _copied(metadata)
        try:
            context = [meta.get(key) for key in _COPIED_KEYS]
        except Exception:
            # A key whose __eq__ raises shadows a copied name: copy nothing.
            context = [None] * len(_COPIED_KEYS)
        session_id, user_id, sample_id, cohort, model, provider = context
        return Event(
            event_id=new_event_id(),
            event_name=name,
            timestamp=timestamp,
            experiment_id=self.experiment_id,
            experiment_name=self.experiment_name,
            condition=self.condition,
            tags=self.tags,
            measurements=measured,
            metadata=meta,
            latency_ms=_guarded(latency_ms, measured),
            cost_usd=_guarded(cost_usd, measured, meta, self.pricing),
            success=_guarded(success, measured, meta),
            session_id=session_id,
            user_id=user_id,
            sample_id=sample_id,
            cohort=cohort,
            model=model,
            provider=provider,
        )
