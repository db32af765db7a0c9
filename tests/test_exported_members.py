"""Every public name imports, and the contract's import line works."""

from __future__ import annotations

import importlib

import pytest

import telemetry_actors


def test_every_name_in_all_imports() -> None:
    for name in telemetry_actors.__all__:
        assert getattr(telemetry_actors, name) is not None, name


def test_all_has_no_duplicates() -> None:
    # Order is checked by ruff (RUF022); duplicates would hide a missing name.
    assert len(set(telemetry_actors.__all__)) == len(telemetry_actors.__all__)


def test_contract_import_line() -> None:
    module = importlib.import_module("telemetry_actors")
    contract_names = (
        "Runtime emit span STANDARD_EVENTS Experiment ExperimentStatus Event Last LastN "
        "Range TelemetryActorsError ExperimentNotFoundError InvalidTransitionError "
        "AlreadyPausedError NotRunningError NotPausedError NoEventsError RuntimeClosedError"
    ).split()
    for name in contract_names:
        assert name in module.__all__, name


def test_testing_module_exports_inject_crash() -> None:
    from telemetry_actors.testing import inject_crash

    assert callable(inject_crash)


@pytest.mark.parametrize(
    "module_name", ["telemetry_actors.otel", "telemetry_actors.prometheus", "telemetry_actors"]
)
def test_public_submodules_export_what_they_list(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == sorted(module.__all__, key=lambda name: (not name.isupper(), name))
    for name in module.__all__:
        assert getattr(module, name) is not None, name
