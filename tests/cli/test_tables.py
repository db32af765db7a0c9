"""The number formats shared by the live view, the log lines and the tables."""

from __future__ import annotations

import pytest

from telemetry_actors.cli._tables import format_usd


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0.0, "$0.00"),
        (0.0123, "$0.0123"),
        (0.8977, "$0.8977"),
        (0.89766, "$0.8977"),
        (0.5, "$0.50"),
        (0.05282, "$0.05282"),
        (0.0032956623, "$0.003296"),
        (0.00001234, "$0.00001234"),
        (0.99996, "$1.00"),
        (1.0, "$1.00"),
        (2.7483, "$2.75"),
        (147.756, "$147.76"),
        (1234.567, "$1,234.57"),
        (-0.6834, "-$0.6834"),
        (-12.5, "-$12.50"),
        (float("nan"), "-"),
        (float("inf"), "-"),
    ],
)
def test_format_usd(value: float | None, text: str) -> None:
    assert format_usd(value) == text
