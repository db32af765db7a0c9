"""Enrichment of a whole batch at once: latency, cost, success and tokens as columns.

:func:`telemetry_actors._enrichment.derive` costs about a microsecond per
event in Python. Here the fields of a batch are read column by column at C
speed (``map(dict.get, …)``) and computed with numpy for the rows of the
common LLM-call shape; every other row goes through ``derive`` itself, so
the rules live in one place and the result is the same, bit for bit (the
tests compare the two on arbitrary fields).

Every field it is given holds builtin values only (decoded MessagePack, an
exact capture, or the caller's objects once ``_bulk_ingest.derive_borrowed``
has proven them builtin), so no caller code runs while they are read. A
row takes the column path when:

* ``measurements["duration"]`` is an int;
* ``metadata["tokens"]`` is a dict of exactly ``prompt`` and ``completion``, ints;
* ``metadata["model"]`` is a str and ``metadata`` has no ``cost``;
* ``metadata["error"]`` and ``["exception"]`` are falsy, and
  ``measurements["status"]`` is a str or absent.

Cost: about thirty C-level passes over the batch; 0.72-0.84 of ``derive``
row by row (plus the model and provider lookups) on bench events, measured
side by side. The larger gain of bulk ingest is elsewhere (``_bulk_ingest``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import repeat
from operator import add
from typing import Any

import numpy as np
import numpy.typing as npt

from .._enrichment import derive, model_of, provider_of
from .._pricing import UNKNOWN_MODEL_RATES

_NAN = float("nan")
_get = dict.get
_has = dict.__contains__
#: success codes of the str statuses derive reads; any other str leaves it to ``response``.
_STATUS = {"ok": 1, "error": 0}
_status_code: Callable[[Any], int | None] = _STATUS.get
_NONE_TYPE = type(None)
#: Counts below this add up exactly in float64: 2**52, half the 2**53 of exact integers.
_EXACT_HALF = float(2**52)
FloatColumn = npt.NDArray[np.float64]


class DerivedColumns:
    """What enrichment derived for a batch, one entry per row.

    ``latency``/``cost``/``prompt``/``completion``/``total`` are float64 with
    NaN for None; ``success`` int8 -1/0/1; ``float_tokens`` bool (the row's
    counts were floats); ``models``/``providers`` the values to code.
    """

    __slots__ = (
        "completion",
        "cost",
        "float_tokens",
        "latency",
        "models",
        "prompt",
        "providers",
        "success",
        "total",
    )

    def __init__(
        self,
        numbers: tuple[FloatColumn, FloatColumn, FloatColumn, FloatColumn, FloatColumn],
        success: npt.NDArray[np.int8],
        float_tokens: npt.NDArray[np.bool_],
        models: list[Any],
        providers: list[Any],
    ) -> None:
        self.latency, self.cost, self.prompt, self.completion, self.total = numbers
        self.success = success
        self.float_tokens = float_tokens
        self.models = models
        self.providers = providers

    @classmethod
    def empty(cls, size: int) -> DerivedColumns:
        """Columns of ``size`` rows with nothing derived yet (NaN, -1, None)."""
        numbers = tuple(np.full(size, _NAN) for _ in range(5))
        return cls(
            numbers,  # type: ignore[arg-type]
            np.full(size, -1, dtype=np.int8),
            np.zeros(size, dtype=bool),
            [None] * size,
            [None] * size,
        )


def derive_batch(
    measurements: list[dict[Any, Any]],
    metadata: list[dict[Any, Any]],
    pricing: Mapping[str, tuple[float, float]],
) -> DerivedColumns:
    """Derive every row of a batch of plain fields (dicts of builtin values only).

    Equal to ``derive`` plus the model and provider ingest reads, row by
    row. O(n) at C speed for the common shape (see the module docstring).
    """
    size = len(measurements)
    durations: list[Any] = list(map(_get, measurements, repeat("duration")))
    tokens: list[Any] = list(map(_get, metadata, repeat("tokens")))
    models: list[Any] = list(map(_get, metadata, repeat("model")))
    statuses: list[Any] = list(map(_get, measurements, repeat("status")))
    counts = _common_counts(metadata, durations, tokens, models, statuses) if size else None
    if counts is not None:  # every row has the common shape: no row by row at all
        providers: list[Any] = list(map(_get, metadata, repeat("provider")))
        if None in providers:
            providers = [
                provider if provider is not None else provider_of(fields)
                for provider, fields in zip(providers, metadata, strict=True)
            ]
        numbers = _numbers(durations, counts[0], counts[1], models, pricing)
        success = _success(statuses, metadata)
        return DerivedColumns(numbers, success, np.zeros(size, dtype=bool), models, providers)
    out = DerivedColumns.empty(size)
    rows, prompts, completions = _column_rows(measurements, metadata, durations, tokens, models)
    _derive_rows(out, measurements, metadata, pricing, sorted(set(range(size)).difference(rows)))
    if rows:
        where = np.asarray(rows, dtype=np.intp)
        models = [models[row] for row in rows]
        numbers = _numbers([durations[row] for row in rows], prompts, completions, models, pricing)
        for column, values in zip(
            (out.latency, out.cost, out.prompt, out.completion, out.total), numbers, strict=True
        ):
            column[where] = values
        out.success[where] = _success(
            [statuses[row] for row in rows], [metadata[row] for row in rows]
        )
        for row, model in zip(rows, models, strict=True):
            out.models[row] = model
            provider = metadata[row].get("provider")
            out.providers[row] = provider if provider is not None else provider_of(metadata[row])
    return out


def _common_counts(
    metadata: list[dict[Any, Any]],
    durations: list[Any],
    tokens: list[Any],
    models: list[Any],
    statuses: list[Any],
) -> tuple[list[int], list[int]] | None:
    """(prompts, completions) when every row has the common shape, else None. C speed."""
    if not (
        _only(durations, int)
        and _only(tokens, dict)
        and _only(models, str)
        and _only(statuses, str, _NONE_TYPE)
        and set(map(len, tokens)) == {2}
        and not any(map(_has, metadata, repeat("cost")))
        and not any(map(_get, metadata, repeat("error")))
        and not any(map(_get, metadata, repeat("exception")))
    ):
        return None
    prompts: list[Any] = list(map(_get, tokens, repeat("prompt")))
    completions: list[Any] = list(map(_get, tokens, repeat("completion")))
    return (prompts, completions) if _only(prompts, int) and _only(completions, int) else None


def _only(values: list[Any], *kinds: type) -> bool:
    """True when every value is of exactly one of ``kinds``. O(n) at C speed."""
    if len(kinds) == 1:  # counting by identity: 0.65 of a set of the types
        return list(map(type, values)).count(kinds[0]) == len(values)
    return set(map(type, values)).issubset(kinds)


def _column_rows(
    measurements: list[dict[Any, Any]],
    metadata: list[dict[Any, Any]],
    durations: list[Any],
    tokens: list[Any],
    models: list[Any],
) -> tuple[list[int], list[int], list[int]]:
    """The rows of the common shape, with their prompt and completion counts."""
    rows: list[int] = []
    prompts: list[int] = []
    completions: list[int] = []
    for row, (duration, given, model, fields) in enumerate(
        zip(durations, tokens, models, metadata, strict=True)
    ):
        if (
            type(duration) is not int
            or type(given) is not dict
            or len(given) != 2
            or type(model) is not str
            or "cost" in fields
            or fields.get("error")
            or fields.get("exception")
        ):
            continue
        prompt, completion = given.get("prompt"), given.get("completion")
        status = measurements[row].get("status")
        plain_status = status is None or type(status) is str
        if type(prompt) is int and type(completion) is int and plain_status:
            rows.append(row)
            prompts.append(prompt)
            completions.append(completion)
    return rows, prompts, completions


def _derive_rows(
    out: DerivedColumns,
    measurements: list[dict[Any, Any]],
    metadata: list[dict[Any, Any]],
    pricing: Mapping[str, tuple[float, float]],
    rows: list[int],
) -> None:
    """``derive`` and the model/provider lookups, one row at a time."""
    for row in rows:
        fields = metadata[row]
        latency, cost, outcome, tokens = derive(measurements[row], fields, pricing)
        if latency is not None:
            out.latency[row] = latency
        if cost is not None:
            out.cost[row] = cost
        if outcome is not None:
            out.success[row] = outcome
        if tokens is not None:
            out.prompt[row], out.completion[row], out.total[row] = tokens
            out.float_tokens[row] = type(tokens[0]) is float or type(tokens[1]) is float
        model, provider = fields.get("model"), fields.get("provider")
        out.models[row] = model if model is not None else model_of(fields)
        out.providers[row] = provider if provider is not None else provider_of(fields)


def _numbers(
    durations: list[int],
    prompts: list[int],
    completions: list[int],
    models: list[str],
    pricing: Mapping[str, tuple[float, float]],
) -> tuple[FloatColumn, FloatColumn, FloatColumn, FloatColumn, FloatColumn]:
    """(latency, cost, prompt, completion, total) of common-shape rows, as derive computes them."""
    # Each int converts to the nearest float, as int / float does in derive.
    latency = np.array(durations, dtype=np.float64) / 1e6
    prompt = np.array(prompts, dtype=np.float64)
    completion = np.array(completions, dtype=np.float64)
    # The total is prompt + completion as ints, then one rounding (as derive's
    # tuple); below 2**52 both counts and their sum are exact floats, so the
    # float sum is that rounding (a third of the ints' cost, side by side).
    if _below_half_exact(prompt) and _below_half_exact(completion):
        total = prompt + completion
    else:
        total = np.array(list(map(add, prompts, completions)), dtype=np.float64)
    input_rates, output_rates = _rates(models, pricing)
    priced = (prompt * input_rates + completion * output_rates) / 1_000_000
    cost = np.where(np.isfinite(priced), priced, _NAN)
    return latency, cost, prompt, completion, total


def _below_half_exact(counts: FloatColumn) -> bool:
    """True when every count's magnitude is below 2**52 (sums of two stay exact). O(n)."""
    return not len(counts) or bool(np.abs(counts).max() < _EXACT_HALF)


def _rates(models: list[str], pricing: Mapping[str, tuple[float, float]]) -> tuple[Any, Any]:
    """Each row's (input, output) rates: scalars for one model, else float64 arrays."""
    rates = {model: pricing.get(model, UNKNOWN_MODEL_RATES) for model in dict.fromkeys(models)}
    if len(rates) == 1:
        return next(iter(rates.values()))
    pairs = list(map(rates.__getitem__, models))
    return (
        np.fromiter((pair[0] for pair in pairs), np.float64, len(pairs)),
        np.fromiter((pair[1] for pair in pairs), np.float64, len(pairs)),
    )


def _success(statuses: list[str | None], metadata: list[dict[Any, Any]]) -> npt.NDArray[np.int8]:
    """-1/0/1 from the str status, else from ``metadata["response"]`` (no error here)."""
    codes: list[Any] = list(map(_status_code, statuses))
    if None in codes:
        for at, code in enumerate(codes):
            if code is None:
                codes[at] = -1 if metadata[at].get("response") is None else 1
    return np.array(codes, dtype=np.int8)
