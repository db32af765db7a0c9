"""Durations on the command line: ``30s``, ``5m``, ``250ms``, ``1h`` or plain seconds."""

from __future__ import annotations

import pytest

from telemetry_actors.cli._durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "microseconds"),
    [
        ("30s", 30_000_000),
        ("5m", 300_000_000),
        ("1.5m", 90_000_000),
        ("1h", 3_600_000_000),
        ("250ms", 250_000),
        ("45", 45_000_000),
        ("0.5", 500_000),
        (" 2 min ", 120_000_000),
        ("10 S", 10_000_000),
    ],
)
def test_parse(text: str, microseconds: int) -> None:
    assert parse_duration(text) == microseconds


@pytest.mark.parametrize("text", ["", "s", "abc", "5x", "-5s", "1e3s", "nan", "inf", "5m3s"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{text!r} is not a duration; use e.g. 30s, 5m, 1h"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0.0000001s"])
def test_too_short(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{text!r} is too short: a duration must be > 0"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("microseconds", "text"),
    [
        (30_000_000, "30 s"),
        (300_000_000, "5 min"),
        (90_000_000, "90 s"),
        (3_600_000_000, "1 h"),
        (250_000, "250 ms"),
        (1_500, "1.5 ms"),
    ],
)
def test_format(microseconds: int, text: str) -> None:
    assert format_duration(microseconds) == text
