"""The core stays light: importing the library loads none of the CLI's dependencies."""

from __future__ import annotations

import subprocess
import sys

import pytest

import telemetry_actors.cli

from .helpers import subprocess_env

HEAVY = ("click", "rich", "matplotlib")


@pytest.mark.parametrize("module", ["telemetry_actors", "telemetry_actors.cli"])
def test_import_loads_no_cli_dependency(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    )
    assert result.stdout.strip() == "[]"


def test_every_name_in_all_imports() -> None:
    assert len(set(telemetry_actors.cli.__all__)) == len(telemetry_actors.cli.__all__)
    for name in telemetry_actors.cli.__all__:
        assert getattr(telemetry_actors.cli, name) is not None, name
