"""What an emitted event becomes: derived fields at ingest, whole events on read.

Every derivation is total: a value of the wrong type, NaN or infinity gives
``None`` for the derived field, and the event is still stored whole. Nothing a
caller emits can make this module raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._event import Event
from ._pricing import UNKNOWN_MODEL_RATES
from ._types import FieldDict

_PROMPT_KEYS = ("prompt", "prompt_tokens", "input_tokens", "gen_ai.usage.input_tokens")
_COMPLETION_KEYS = (
    "completion",
    "completion_tokens",
    "output_tokens",
    "gen_ai.usage.output_tokens",
)
#: OpenTelemetry GenAI attribute names read when the contract's own are absent.
GENAI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GENAI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
_MODEL_KEYS = ("model", "gen_ai.response.model", "gen_ai.request.model")
_PROVIDER_KEYS = ("provider", "gen_ai.provider.name", "gen_ai.system")
_TOTAL_KEYS = ("total", "total_tokens")
_MISSING: Any = object()
_INVALID: Any = object()

#: (prompt, completion, total) token counts.
Tokens = tuple[float, float, float]


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a finite int/float (not bool), else None."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type, return-value]
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int too large for a float
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def number_or_none(value: object) -> float | None:
    """A usable number for the numeric columns (finite int/float), else None."""
    try:
        return finite_number(value)
    except Exception:  # a float subclass whose __float__ raises
        return None


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
    return finite_number((stop - start) / 1e6)


def _token_count(value: object) -> float | None:
    # Keep ints as ints so token totals read 5500, not 5500.0; an int too large
    # for a float is unusable like NaN.
    if type(value) is int:
        return value if finite_number(value) is not None else None
    return finite_number(value)


def _first_count(tokens: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    # The first alias present decides: its count, or _INVALID for an unusable value.
    for key in keys:
        value = tokens.get(key, _MISSING)
        if value is not _MISSING:
            count = _token_count(value)
            return _INVALID if count is None else count
    return None


def _first_present(metadata: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = metadata.get(key)
        if value is not None:
            return value
    return None


def model_of(metadata: Mapping[str, Any]) -> Any:
    """``metadata["model"]``, else the OpenTelemetry ``gen_ai.response.model``, else
    ``gen_ai.request.model`` (the response's model is the one that answered)."""
    return _first_present(metadata, _MODEL_KEYS)


def provider_of(metadata: Mapping[str, Any]) -> Any:
    """``metadata["provider"]``, else ``gen_ai.provider.name``, else ``gen_ai.system``
    (the older name)."""
    return _first_present(metadata, _PROVIDER_KEYS)


def _genai_usage(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The flat ``gen_ai.usage.*`` counts of ``metadata`` as a tokens mapping, or None."""
    if GENAI_INPUT_TOKENS not in metadata and GENAI_OUTPUT_TOKENS not in metadata:
        return None
    return {
        key: metadata[key] for key in (GENAI_INPUT_TOKENS, GENAI_OUTPUT_TOKENS) if key in metadata
    }


def token_counts(metadata: Mapping[str, Any]) -> Tokens | None:
    """(prompt, completion, total) from ``metadata["tokens"]``, or None.

    Accepts ``prompt``/``completion``/``total``, ``prompt_tokens``/…,
    ``input_tokens``/``output_tokens`` and the OpenTelemetry GenAI
    ``gen_ai.usage.input_tokens``/``output_tokens`` (inside ``tokens`` or flat
    in the metadata, when there is no ``tokens``); a missing part counts as 0
    and a missing total is prompt + completion. None when there is no count,
    or when any count given is of the wrong type, NaN or infinite.
    """
    tokens = metadata.get("tokens")
    if tokens is None:
        tokens = _genai_usage(metadata)
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


def text_of(value: str) -> str:
    """A str subclass's text as a plain str (a str enum reads as its value's text).

    ``str.__str__`` copies the text without running any code of the subclass,
    so a model or status given as a str enum is priced and judged as the
    same str would be, and a database stores it as that text. O(len).
    """
    return str.__str__(value)


def cost_usd(
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
    pricing: Mapping[str, tuple[float, float]],
    tokens: Tokens | None,
) -> float | None:
    """``metadata["cost"]``, else priced ``tokens``, else ``measurements["cost"]``.

    The first source that is present decides; an unusable value gives None.
    Tokens are priced only when ``metadata["model"]`` is a str, a str enum
    included (unknown models at the default rates).
    """
    cost = metadata.get("cost", _MISSING)
    if cost is not _MISSING:
        return finite_number(cost)
    model = model_of(metadata)
    if isinstance(model, str) and ("tokens" in metadata or _genai_usage(metadata) is not None):
        if tokens is None:
            return None
        input_rate, output_rate = pricing.get(text_of(model), UNKNOWN_MODEL_RATES)
        return finite_number((tokens[0] * input_rate + tokens[1] * output_rate) / 1_000_000)
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
        status = text_of(status)
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


#: Token counts below this size convert to finite floats; larger ones are unusable.
_SMALL_INT = 1 << 1000


def derive(
    measurements: FieldDict, metadata: FieldDict, pricing: Mapping[str, tuple[float, float]]
) -> tuple[float | None, float | None, bool | None, Tokens | None]:
    """(latency_ms, cost_usd, success, tokens) of one event. Never raises.

    Hot path: the common shapes (an int duration, a dict of just int prompt
    and completion counts, tokens priced by a str model) are handled inline;
    everything else goes through the field functions above, which define the
    rules. An int too large for a float raises OverflowError inline, which
    sends the event down the field functions too.
    """
    try:
        duration = measurements.get("duration", _MISSING)
        if type(duration) is int:
            latency: float | None = duration / 1e6
        else:
            latency = latency_ms(measurements)
        tokens_given = metadata.get("tokens")
        tokens: Tokens | None = None
        if tokens_given is None and (
            GENAI_INPUT_TOKENS in metadata or GENAI_OUTPUT_TOKENS in metadata
        ):
            tokens = token_counts(metadata)
        elif tokens_given is not None:
            # Exactly two keys, both int counts: no total and no aliases to look at.
            if type(tokens_given) is dict and len(tokens_given) == 2:
                prompt = tokens_given.get("prompt")
                completion = tokens_given.get("completion")
            else:
                prompt = completion = None
            if (
                type(prompt) is int
                and type(completion) is int
                and -_SMALL_INT < prompt < _SMALL_INT
                and -_SMALL_INT < completion < _SMALL_INT
            ):
                tokens = (prompt, completion, prompt + completion)
            else:
                tokens = token_counts(metadata)
        model = metadata.get("model")
        if model is None:
            model = model_of(metadata)
        if tokens is not None and type(model) is str and "cost" not in metadata:
            # cost_usd's token pricing, inlined for the common case.
            input_rate, output_rate = pricing.get(model, UNKNOWN_MODEL_RATES)
            priced = (tokens[0] * input_rate + tokens[1] * output_rate) / 1_000_000
            # finite_number, inlined: inf - inf and NaN - NaN are NaN, unequal to 0.
            cost: float | None = priced if priced - priced == 0.0 else None
        else:
            cost = cost_usd(measurements, metadata, pricing, tokens)
        # success(), inlined for the common case: no error, a str status or none.
        if metadata.get("error") or metadata.get("exception"):
            outcome: bool | None = False
        else:
            status = measurements.get("status")
            if type(status) is not str and isinstance(status, str):
                status = text_of(status)
            if status == "ok" and type(status) is str:
                outcome = True
            elif status == "error" and type(status) is str:
                outcome = False
            else:
                outcome = True if metadata.get("response") is not None else None
        return latency, cost, outcome, tokens
    except Exception:
        # Some value misbehaved: derive each field on its own so the others survive.
        tokens = _guarded(token_counts, metadata)
        return (
            _guarded(latency_ms, measurements),
            _guarded(cost_usd, measurements, metadata, pricing, tokens),
            _guarded(success, measurements, metadata),
            tokens,
        )


def token_counts_of(event: Event) -> Tokens | None:
    """The token counts of a stored event's metadata (None when unusable). Never raises."""
    metadata = event.metadata
    if not isinstance(metadata, Mapping):
        return None
    result: Tokens | None = _guarded(token_counts, metadata)
    return result


def copied(fields: Mapping[str, Any] | None) -> FieldDict:
    """A plain dict copy of a caller's mapping (empty when it cannot be read)."""
    if fields is None:
        return {}
    try:
        return dict(fields)
    except Exception:
        return {}
