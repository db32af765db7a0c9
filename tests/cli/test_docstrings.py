"""The examples in the CLI's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import telemetry_actors.cli

MODULES = sorted(
    f"telemetry_actors.cli.{module.name}"
    for module in pkgutil.iter_modules(telemetry_actors.cli.__path__)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, raise_on_error=False, report=True)
    assert failed == 0


def test_examples_exist() -> None:
    tested = {name: doctest.testmod(importlib.import_module(name)).attempted for name in MODULES}
    assert tested["telemetry_actors.cli._pacing"] > 0
    assert tested["telemetry_actors.cli._durations"] > 0
    assert tested["telemetry_actors.cli._simclock"] > 0
