"""The number formats the live view, the log lines and the tables share.

Imports neither rich nor matplotlib (the demo and the significance rows use it).
"""

from __future__ import annotations

import math

__all__ = ["format_clock", "format_ms", "format_pct", "format_signed_usd", "format_usd"]


def format_clock(seconds: float) -> str:
    """Simulated time since the study began, as minutes and seconds: ``07:30``.

    Example:
        >>> format_clock(450.9), format_clock(3_725)
        ('07:30', '62:05')
    """
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def format_ms(value: float | None) -> str:
    """Milliseconds without decimals: ``1,234 ms``; ``-`` for None."""
    return "-" if value is None else f"{value:,.0f} ms"


def format_usd(value: float | None) -> str:
    """The one money format of the CLI; ``-`` for None.

    From $1 on, cents with thousands separators: ``$132.79``, ``$1,234.57``.
    Below $1, four significant digits without trailing zeros, but at least
    cents: ``$0.8977``, ``$0.0123``, ``$0.003296``, ``$0.50``, ``$0.00``. A
    negative amount puts its sign first: ``-$0.6834``. NaN and infinities are ``-``.
    """
    if value is None or not math.isfinite(value):
        return "-"
    sign, amount = ("-" if value < 0 else ""), abs(value)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    decimals = 3 - math.floor(math.log10(amount))  # four significant digits
    text = f"{amount:.{decimals}f}"
    if float(text) >= 1:  # 0.99996 rounds up to a dollar
        return f"{sign}${amount:,.2f}"
    whole, fraction = text.split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def format_pct(value: float | None) -> str:
    """A rate in [0, 1] as a percentage: ``97.12%``."""
    return "-" if value is None else f"{value:.2%}"


def format_signed_usd(value: float) -> str:
    """A difference of money, its sign first: ``+$0.04518``, ``-$122.69``.

    Example:
        >>> format_signed_usd(-122.6875), format_signed_usd(0.045183)
        ('-$122.69', '+$0.04518')
    """
    text = format_usd(abs(value))
    return f"-{text}" if value < 0 else f"+{text}"
