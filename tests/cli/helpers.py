"""Helpers of the CLI tests: invoking the command line in-process, checking its errors."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner, Result

from telemetry_actors.cli._app import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEMO_ARGS = ["demo", "--no-live", "--duration", "1", "--agents", "4", "--seed", "1"]


def _runner() -> CliRunner:
    # click 8.2 keeps stderr apart by default; 8.1 needs mix_stderr=False.
    major, minor = (int(part) for part in version("click").split(".")[:2])
    if (major, minor) < (8, 2):
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


def invoke(*args: str | Path) -> Result:
    """Run ``telemetry-actors ARGS`` in-process; exceptions propagate (no silent traceback)."""
    return _runner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def run_demo_cli(out: Path, seed: int = 1) -> Result:
    """The short ``--no-live`` demo into ``out``; asserts it succeeded."""
    args = [*DEMO_ARGS[:-1], str(seed), "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit status 1, nothing on stdout, one ``Error: ...`` line on stderr holding ``fragments``.

    Returns:
        The error line.
    """
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]
