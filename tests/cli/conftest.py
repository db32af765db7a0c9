"""The CLI suite shares one short demo run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from .helpers import run_demo_cli


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """One short demo for the whole CLI suite: its output folder and its result."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, run_demo_cli(out)
