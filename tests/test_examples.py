"""Every example in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_basic_usage(tmp_path: Path) -> None:
    output = run_example("basic_usage.py", tmp_path)
    assert "live: 400 calls" in output
    assert "pause_count=1" in output
    assert "final: 800 events" in output
    assert "{'altar.tool.start': 400, 'altar.tool.stop': 400}" in output
    csv_files = list((tmp_path / "exports").glob("basic_usage_*.csv"))
    assert len(csv_files) == 1
    lines = csv_files[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 801  # header + every collected event


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_runs(name: str, tmp_path: Path) -> None:
    run_example(name, tmp_path)
