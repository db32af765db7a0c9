"""Helpers of the CLI tests: invoking the command line in-process, checking its errors."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner, Result

import telemetry_actors
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


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m telemetry_actors`` in a child: this checkout first.

    The venv may hold an editable install of another checkout; the child must
    import the package under test, as the test process does.
    """
    root = str(Path(telemetry_actors.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def run_in_terminal(args: list[str], cwd: Path, timeout: float = 60.0) -> tuple[int, str]:
    """Run ``python -m telemetry_actors ARGS`` on a pseudo-terminal, as a user's shell would.

    Returns:
        The exit status and everything the child wrote (stdout and stderr), decoded.
    """
    controller, terminal = os.openpty()
    env = subprocess_env(COLUMNS="100", LINES="50", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    with subprocess.Popen(
        [sys.executable, "-m", "telemetry_actors", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=cwd,
        env=env,
    ) as process:
        os.close(terminal)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            process.kill()
        os.close(controller)
        status = process.wait(timeout=10)
    return status, b"".join(chunks).decode("utf-8", errors="replace")
