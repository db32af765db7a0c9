"""What ``rt.significance`` says about a treatment, in cells and words for a table.

One row per headline test: latency and cost (Welch's test of the means)
and success (Fisher's exact test of the rates). Each row gives the effect
(treatment - baseline, in ms, USD or percentage points), its interval, the
p-value, the Holm-adjusted p-value and a verdict in words. The verdict reads
the Holm-adjusted p-value against 1 - confidence: three tests are made, and
Holm's adjustment keeps the chance of any false alarm among them at that
level.

Imports neither rich nor matplotlib (the demo uses it); ``_tables`` draws the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import MetricTest, Runtime, Significance
from ._formats import format_signed_usd

__all__ = [
    "SignificanceRow",
    "format_p",
    "samples_line",
    "significance_or_note",
    "significance_rows",
    "verdict",
]

#: Words for a significant difference: (treatment - baseline > 0, < 0).
_DIRECTIONS = {
    "latency": ("treatment is slower", "treatment is faster"),
    "cost": ("treatment costs more", "treatment costs less"),
    "success": ("treatment succeeds more often", "treatment fails more often"),
}


@dataclass(frozen=True)
class SignificanceRow:
    """The cells of one test: metric, effect, interval, p-values and verdict."""

    metric: str
    difference: str
    interval: str
    p_value: str
    p_holm: str
    verdict: str


def format_p(p: float | None) -> str:
    """A p-value: ``< 0.001`` below a thousandth, else three significant digits; ``-`` for None.

    Example:
        >>> format_p(3e-9), format_p(0.0123), format_p(0.41170), format_p(1.0)
        ('< 0.001', '0.0123', '0.412', '1')
    """
    if p is None:
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def verdict(metric: str, difference: float | None, p_holm: float | None, alpha: float) -> str:
    """The outcome of one test in words, such as ``treatment is slower (p < 0.001)``.

    Args:
        metric: ``"latency"``, ``"cost"`` or ``"success"``.
        difference: treatment - baseline.
        p_holm: the Holm-adjusted p-value.
        alpha: 1 - the confidence level; a difference is significant when
            ``p_holm < alpha``.
    """
    if difference is None or p_holm is None:
        return "not tested (see the warnings)"
    shown = format_p(p_holm)
    p_text = f"p {shown}" if shown.startswith("<") else f"p = {shown}"
    if p_holm >= alpha or difference == 0:
        return f"no significant difference ({p_text})"
    more, less = _DIRECTIONS[metric]
    return f"{more if difference > 0 else less} ({p_text})"


def _signed_ms(value: float) -> str:
    return f"{value:+,.0f} ms"


def _interval(low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None:
        return "-"
    if unit == "ms":
        return f"{low:+,.0f} to {high:+,.0f} ms"
    if unit == "pp":
        return f"{low:+.2f} to {high:+.2f} pp"
    return f"{format_signed_usd(low)} to {format_signed_usd(high)}"


def _alpha(significance: Significance) -> float:
    # 1 - 0.95 is 0.050000000000000044 in floating point: p = 0.05 is not below it.
    return round(1.0 - significance.confidence, 12)


def _metric_row(name: str, test: MetricTest, significance: Significance) -> SignificanceRow:
    unit = "ms" if name == "latency" else "usd"
    signed = _signed_ms if unit == "ms" else format_signed_usd
    p_holm = significance.p_holm.get(name)
    return SignificanceRow(
        metric=name,
        difference="-" if test.difference is None else signed(test.difference),
        interval=_interval(test.ci_low, test.ci_high, unit),
        p_value=f"{format_p(test.p_welch)} (Welch)",
        p_holm=format_p(p_holm),
        verdict=verdict(name, test.difference, p_holm, _alpha(significance)),
    )


def significance_rows(significance: Significance) -> list[SignificanceRow]:
    """The latency, cost and success rows of a table of ``significance``."""
    success = significance.success
    p_holm = significance.p_holm.get("success")
    return [
        _metric_row("latency", significance.latency, significance),
        _metric_row("cost", significance.cost, significance),
        SignificanceRow(
            metric="success",
            difference="-"
            if success.difference_pp is None
            else f"{success.difference_pp:+.2f} pp",
            interval=_interval(success.ci_low_pp, success.ci_high_pp, "pp"),
            p_value=f"{format_p(success.p_value)} (Fisher)",
            p_holm=format_p(p_holm),
            verdict=verdict("success", success.difference_pp, p_holm, _alpha(significance)),
        ),
    ]


def samples_line(significance: Significance) -> str:
    """How many values each test compared, baseline / treatment."""
    latency, cost, success = significance.latency, significance.cost, significance.success
    return (
        f"Compared (baseline / treatment): latency of {latency.n_baseline:,} / "
        f"{latency.n_treatment:,} events, cost of {cost.n_baseline:,} / {cost.n_treatment:,}, "
        f"success of {success.total_baseline:,} / {success.total_treatment:,}."
    )


async def significance_or_note(
    rt: Runtime, baseline_id: str, treatment_id: str, *, seed: int
) -> tuple[Significance | None, str | None]:
    """``rt.significance(...)`` with ``seed``, or None and a one-line note without scipy."""
    try:
        result: Significance = await rt.significance(baseline_id, treatment_id, seed=seed)
    except ImportError as error:  # the stats extra is not installed
        return None, f"No significance tests: {error}"
    return result, None
