"""``summary.json``: what the demo measured, for scripts and notebooks.

The configuration, each condition's requests, costs and metrics, the deltas
of ``compare_experiments``, the tests of ``significance``, the anomalies
and the incident, and the trace experiment's counts.

Imports neither rich nor matplotlib (the demo uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from .. import Comparison, Experiment, Metrics, Significance

__all__ = ["condition_summary", "write_summary"]


def condition_summary(condition: str, metrics: Metrics) -> dict[str, Any]:
    """Requests counted as queries, cost per query and per billed call, and the metrics.

    The library counts every event in ``reliability.total_requests``; here it
    counts the queries completed (``ab.<condition>.request.stop``, each with
    its outcome), so that ``successful + failed == total_requests``. Queries
    sent (``request.start``) differ by the queries in flight around the pause:
    one sent before it and completed during it counts only as sent, one sent
    during it and completed after it only as completed. Cost per
    query divides by the queries completed too: a query's calls are billed
    when they end, so cost and completions fall in the same collected time.
    """
    prefix = f"ab.{condition}"
    sent = metrics.events.get(f"{prefix}.request.start", 0)
    completed = metrics.events.get(f"{prefix}.request.stop", 0)
    billed = metrics.events.get(f"{prefix}.usage.billed", 0)
    total = metrics.cost.total
    reliability = msgspec.structs.replace(metrics.reliability, total_requests=completed)
    return {
        "requests": {"queries_sent": sent, "queries_completed": completed, "billed_calls": billed},
        "cost_per_query_usd": total / completed if completed else None,
        "cost_per_billed_call_usd": total / billed if billed else None,
        "metrics": msgspec.structs.replace(metrics, reliability=reliability),
    }


def write_summary(
    path: Path,
    *,
    settings: dict[str, Any],
    experiments: Sequence[Experiment],
    comparison: Comparison,
    significance: Significance | None,
    anomalies: dict[str, Any],
    trace: object,
) -> Path:
    """Write ``summary.json`` at ``path`` and return ``path``.

    Args:
        path: the file to write.
        settings: the first keys: seed, agents, simulated seconds, database.
        experiments: the A/B experiments, the baseline first.
        comparison: their ``compare_experiments``.
        significance: the treatment against the baseline, or None without scipy.
        anomalies: the ``anomalies`` section (see ``_incident.anomalies_summary``).
        trace: the trace experiment's counts (a dataclass).
    """
    summary: dict[str, Any] = {
        **settings,
        "conditions": {
            experiment.condition: {
                "experiment_id": experiment.id,
                "archive": f"{experiment.name}.archive.jsonl",
                **condition_summary(experiment.condition, comparison.individual[experiment.id]),
            }
            for experiment in experiments
        },
        "comparison": {
            f"{experiments[int(key.rsplit('_', 1)[1])].condition} vs "
            f"{experiments[0].condition}": delta
            for key, delta in comparison.comparison.items()
        },
        "significance": None if significance is None else msgspec.to_builtins(significance),
        "anomalies": anomalies,
        "trace": trace,
    }
    path.write_bytes(msgspec.json.format(msgspec.json.encode(summary)) + b"\n")
    return path
