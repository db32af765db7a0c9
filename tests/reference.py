"""Brute-force references for runtime tests: metrics computed by hand from events.

The runtime computes metrics on numpy columns of its store; these helpers
compute the same numbers from the ``Event`` objects a read returned, with
``math.fsum``, ``statistics`` and ``numpy.percentile``, one event at a time,
so that a test can say "what the runtime analysed is exactly these events".
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import pytest

from telemetry_actors import Event, Metrics


def dotted(name: Iterable[str]) -> str:
    return ".".join(name)


def _tokens(event: Event) -> tuple[float, float, float] | None:
    """(prompt, completion, total) of ``metadata["tokens"]`` as the tests write it."""
    tokens = event.metadata.get("tokens") if isinstance(event.metadata, Mapping) else None
    if not isinstance(tokens, Mapping):
        return None
    prompt, completion = tokens.get("prompt", 0), tokens.get("completion", 0)
    return prompt, completion, tokens.get("total", prompt + completion)


def _rate_flags(rate: float | None) -> dict[str, bool | None]:
    if rate is None:
        return {"sla_99": None, "sla_999": None, "sla_9999": None}
    return {"sla_99": rate >= 0.99, "sla_999": rate >= 0.999, "sla_9999": rate >= 0.9999}


def metrics_by_hand(events: Sequence[Event], *, weighted: bool = False) -> dict[str, Any]:
    """``calculate_metrics`` of ``events`` as plain data (summary without active/paused seconds).

    With ``weighted``, counts and totals are sums of ``sampling_weight`` (and of
    value x weight): Horvitz-Thompson estimates; means are weighted totals over
    weighted counts; spreads and percentiles stay unweighted.
    """
    weight = [event.sampling_weight if weighted else 1.0 for event in events]
    stamps = sorted(event.timestamp for event in events)
    types: Counter[str] = Counter()
    for event, w in zip(events, weight, strict=True):
        types[dotted(event.event_name)] += w  # type: ignore[assignment]
    event_types = {name: _plain_count(count) for name, count in types.items()}
    summary = {
        "total_events": _plain_count(math.fsum(weight)) if weighted else len(events),
        "time_range": [stamps[0], stamps[-1]] if stamps else None,
        "duration_seconds": (stamps[-1] - stamps[0]) / 1e6 if len(stamps) >= 2 else 0.0,
        "event_types": event_types,
    }
    timed = [
        (e.latency_ms, w) for e, w in zip(events, weight, strict=True) if e.latency_ms is not None
    ]
    latencies = [value for value, _ in timed]
    if latencies:
        p50, p90, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 90, 95, 99]))
        timed_weight = math.fsum(w for _, w in timed)
        latency = {
            "count": _plain_count(timed_weight) if weighted else len(latencies),
            "mean": math.fsum(x * w for x, w in timed) / timed_weight,
            "median": p50,
            "std_dev": statistics.stdev(latencies) if len(latencies) > 1 else 0.0,
            "min": min(latencies),
            "max": max(latencies),
            "p50": p50,
            "p90": p90,
            "p95": p95,
            "p99": p99,
        }
    else:
        latency = {"count": 0} | dict.fromkeys(
            ("mean", "median", "std_dev", "min", "max", "p50", "p90", "p95", "p99")
        )
    priced = [
        (e.cost_usd, w) for e, w in zip(events, weight, strict=True) if e.cost_usd is not None
    ]
    if priced:
        total = math.fsum(c * w for c, w in priced)
        per_request = total / math.fsum(w for _, w in priced)
        cost = {
            "count": _plain_count(math.fsum(w for _, w in priced)) if weighted else len(priced),
            "total": total,
            "mean_per_request": per_request,
            "median_per_request": float(np.percentile([c for c, _ in priced], 50)),
            "cost_per_1k_requests": per_request * 1_000,
            "cost_per_1m_requests": per_request * 1_000_000,
        }
    else:
        cost = {"count": 0, "total": 0.0} | dict.fromkeys(
            (
                "mean_per_request",
                "median_per_request",
                "cost_per_1k_requests",
                "cost_per_1m_requests",
            )
        )
    good = math.fsum(w for e, w in zip(events, weight, strict=True) if e.success is True)
    bad = math.fsum(w for e, w in zip(events, weight, strict=True) if e.success is False)
    judged = good + bad
    rate = good / judged if judged else None
    reliability = {
        "total_requests": _plain_count(math.fsum(weight)),
        "successful": _plain_count(good),
        "failed": _plain_count(bad),
        "success_rate": rate,
        "failure_rate": bad / judged if judged else None,
        **_rate_flags(rate),
    }
    counted = [(t, w) for e, w in zip(events, weight, strict=True) if (t := _tokens(e))]
    if counted:
        sums = [math.fsum(t[i] * w for t, w in counted) for i in range(3)]
        divisor = math.fsum(w for _, w in counted)
        tokens = {
            "count": _plain_count(divisor) if weighted else len(counted),
            "total_prompt": sums[0],
            "total_completion": sums[1],
            "total": sums[2],
            "mean_prompt": sums[0] / divisor,
            "mean_completion": sums[1] / divisor,
            "mean_total": sums[2] / divisor,
        }
    else:
        tokens = {
            "count": 0,
            "total_prompt": 0,
            "total_completion": 0,
            "total": 0,
        } | dict.fromkeys(("mean_prompt", "mean_completion", "mean_total"))
    return {
        "summary": summary,
        "latency": latency,
        "cost": cost,
        "reliability": reliability,
        "tokens": tokens,
        "events": event_types,
    }


def _plain_count(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def plain(metrics: Metrics, *, keep_seconds: bool = False) -> dict[str, Any]:
    """``metrics`` as plain data; the pause-history seconds left out unless ``keep_seconds``."""
    data: dict[str, Any] = msgspec.to_builtins(metrics)
    if not keep_seconds:
        data["summary"].pop("active_seconds")
        data["summary"].pop("paused_seconds")
    return data


def assert_close(got: Any, want: Any, *, rel: float = 1e-9, path: str = "") -> None:
    """Recursive equality: floats to ``rel`` relative, everything else exactly."""
    if isinstance(want, Mapping):
        assert isinstance(got, Mapping), f"{path}: {got!r} is not a mapping"
        assert set(got) == set(want), f"{path}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            assert_close(got[key], want[key], rel=rel, path=f"{path}.{key}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple), f"{path}: {got!r} is not a sequence"
        assert len(got) == len(want), f"{path}: {len(got)} items != {len(want)}"
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_close(a, b, rel=rel, path=f"{path}[{index}]")
    elif isinstance(want, bool) or want is None:
        assert got is want, f"{path}: {got!r} is not {want!r}"
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=rel, abs=1e-12), f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
