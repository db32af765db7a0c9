"""The demo's latency incident: injected into one model, flagged live, found afterwards.

For a tenth of the study one model answers 4 to 5 times slower (the seed
picks the model, the factor and when, outside the pause). The model is one
that sets its arm's pace, gpt-4 or claude-3-sonnet: a slower
gpt-3.5-turbo or gemini would hide behind the ensemble's slowest member.

The A/B experiments score every latency as it arrives (:data:`DETECTION`,
the median absolute deviation against the trailing 1,000 values). Afterwards
:func:`found_incidents` looks for the windows in which flagged queries are
common, and joins neighbouring ones into spans: what someone reading the
anomalies, not knowing the injection, would call the incident.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from .. import Anomaly, AnomalyDetection, WindowMetrics
from ._agents import CONDITIONS, MODELS, TIMEOUT_S
from ._formats import format_clock

__all__ = [
    "DETECTION",
    "INCIDENT_MODELS",
    "FoundIncident",
    "Incident",
    "anomalies_summary",
    "choose_incident",
    "condition_of",
    "found_incidents",
    "incident_lines",
]

#: How the demo's A/B experiments look for anomalies, live.
DETECTION = AnomalyDetection(metrics=("latency_ms",), methods=("mad",), window=1000, warmup=30)
#: The models an incident can slow down, each the slowest of its arm.
INCIDENT_MODELS = ("gpt-4", "claude-3-sonnet")
#: The incident's share of the study.
LENGTH = 0.1
#: A window belongs to an incident when at least this share of its queries is
#: flagged, and at least MIN_FLAGGED of them: outside one, about 2 % are (time-outs).
MIN_SHARE = 0.25
MIN_FLAGGED = 3
_METHOD_NAMES = {"mad": "MAD", "zscore": "z-score", "iqr": "IQR", "ewma": "EWMA"}


@dataclass(frozen=True)
class Incident:
    """``model`` answers ``factor`` times slower for calls made in ``[start_us, end_us)``."""

    model: str
    factor: float
    start_us: int
    end_us: int

    def slowdown(self, model: str, now_us: int) -> float:
        """The factor for a call to ``model`` made at ``now_us``: 1 outside the incident."""
        if model == self.model and self.start_us <= now_us < self.end_us:
            return self.factor
        return 1.0

    @property
    def reach_end_us(self) -> int:
        """When the last query slowed by the incident has ended.

        A call made just before ``end_us`` may be hedged after its model's
        hedge delay and then run into the time-out.
        """
        longest = max(profile.hedge_after_s for profile in MODELS.values()) + TIMEOUT_S
        return self.end_us + round(longest * 1_000_000)


def choose_incident(seed: int, origin_us: int, span_us: int) -> Incident:
    """The incident of the study that ``seed`` fixes, in the study's first or last third.

    Example:
        >>> incident = choose_incident(0, 0, 900_000_000)
        >>> incident.end_us - incident.start_us, incident.model in INCIDENT_MODELS
        (90000000, True)
    """
    rng = random.Random(f"telemetry-actors-demo:{seed}:incident")
    model = rng.choice(INCIDENT_MODELS)
    factor = round(rng.uniform(4.0, 5.0), 2)
    # Before the pause (45-55 %) or after it, and late enough for the detector's warm-up.
    start = rng.choice((rng.uniform(0.15, 0.30), rng.uniform(0.60, 0.75)))
    start_us = origin_us + round(span_us * start)
    return Incident(model, factor, start_us, start_us + round(span_us * LENGTH))


@dataclass(frozen=True)
class FoundIncident:
    """A span of windows in which flagged queries are common."""

    start_us: int
    end_us: int
    flagged: int
    queries: int


def found_incidents(
    anomalies: Sequence[Anomaly], windows: Sequence[WindowMetrics]
) -> list[FoundIncident]:
    """Spans of neighbouring windows where flagged queries are common, in time order.

    Args:
        anomalies: an experiment's anomalies, in time order.
        windows: its windowed metrics, in time order, not overlapping; a query
            is an event with an outcome (success or failure).

    Returns:
        One span per run of windows with at least :data:`MIN_FLAGGED` flagged
        queries that make at least :data:`MIN_SHARE` of the window's queries.
        O(windows + anomalies).
    """
    found: list[FoundIncident] = []
    position = 0
    previous_end: int | None = None
    for window in windows:
        while position < len(anomalies) and anomalies[position].timestamp < window.window_start:
            position += 1
        flagged = 0
        while position < len(anomalies) and anomalies[position].timestamp < window.window_end:
            flagged, position = flagged + 1, position + 1
        queries = window.success_count + window.failure_count
        if flagged < MIN_FLAGGED or flagged < MIN_SHARE * queries:
            previous_end = None
            continue
        if found and previous_end == window.window_start:
            last = found[-1]
            found[-1] = FoundIncident(
                last.start_us, window.window_end, last.flagged + flagged, last.queries + queries
            )
        else:
            found.append(FoundIncident(window.window_start, window.window_end, flagged, queries))
        previous_end = window.window_end
    return found


def condition_of(model: str) -> str:
    """The condition whose queries ask ``model``."""
    return next(condition.name for condition in CONDITIONS if model in condition.models)


def _seconds(timestamp_us: int, origin_us: int) -> float:
    return (timestamp_us - origin_us) / 1e6


def anomalies_summary(
    incident: Incident,
    origin_us: int,
    anomalies: Mapping[str, Sequence[Anomaly]],
    found: Mapping[str, Sequence[FoundIncident]],
) -> dict[str, Any]:
    """The ``anomalies`` section of ``summary.json``; times in seconds since the study began.

    Per condition: anomalies flagged, how many of them fell in the incident
    (from its start to the end of the last query it slowed down) and outside
    it, and the incidents :func:`found_incidents` found.
    """
    conditions = {}
    for condition, flagged in anomalies.items():
        inside = sum(incident.start_us <= one.timestamp < incident.reach_end_us for one in flagged)
        conditions[condition] = {
            "flagged": len(flagged),
            "in_incident": inside,
            "outside_incident": len(flagged) - inside,
            "found": [
                {
                    "start_s": _seconds(span.start_us, origin_us),
                    "end_s": _seconds(span.end_us, origin_us),
                    "flagged": span.flagged,
                    "queries": span.queries,
                }
                for span in found.get(condition, ())
            ],
        }
    return {
        "detection": msgspec.to_builtins(DETECTION),
        "incident": {
            "model": incident.model,
            "condition": condition_of(incident.model),
            "factor": incident.factor,
            "start_s": _seconds(incident.start_us, origin_us),
            "end_s": _seconds(incident.end_us, origin_us),
            "reach_end_s": _seconds(incident.reach_end_us, origin_us),
        },
        "conditions": conditions,
    }


def incident_lines(
    incident: Incident,
    origin_us: int,
    anomalies: Mapping[str, Sequence[Anomaly]],
    found: Mapping[str, Sequence[FoundIncident]],
) -> list[str]:
    """The final report's account of the incident: injected, flagged, found."""

    def clock(timestamp_us: int) -> str:
        return format_clock(_seconds(timestamp_us, origin_us))

    def during(values: Sequence[Anomaly]) -> int:
        return sum(incident.start_us <= one.timestamp < incident.reach_end_us for one in values)

    flagged = ", ".join(
        f"{condition} {len(values):,} ({during(values):,} during the incident)"
        for condition, values in anomalies.items()
    )
    lines = [
        f"Latency incident. Injected: {incident.model} ({condition_of(incident.model)}) "
        f"{incident.factor:.2f} times slower from {clock(incident.start_us)} to "
        f"{clock(incident.end_us)}.",
        f"Anomalies flagged live ({', '.join(DETECTION.metrics)}, "
        f"{', '.join(_METHOD_NAMES.get(name, name) for name in DETECTION.methods)}): {flagged}.",
    ]
    for condition in anomalies:
        spans = found.get(condition, ())
        if not spans:
            lines.append(f"No incident found in {condition}.")
        for span in spans:
            lines.append(
                f"Incident found in {condition}: {clock(span.start_us)} to "
                f"{clock(span.end_us)}, {span.flagged:,} of {span.queries:,} queries flagged."
            )
    return lines
