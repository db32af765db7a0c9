"""The README's programs run as printed, and print what the README says they print.

Every ```python block that is a whole program (no ``await`` outside a
function) runs in a fresh folder, in its own interpreter; when a ```text
block follows it, the program's output must equal that block. The pandas
recipe runs against a short demo's files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCK = re.compile(r"```(python|text|bash)\n(.*?)```", re.DOTALL)


def programs() -> list[tuple[str, str, str | None]]:
    """(id, code, expected output or None) of each whole program in the README."""
    blocks = [(kind, body) for kind, body in BLOCK.findall(README.read_text(encoding="utf-8"))]
    found = []
    for index, (kind, body) in enumerate(blocks):
        if kind != "python" or re.search(r"^(?!#)(?:await |\S.*= await )", body, re.MULTILINE):
            continue  # a fragment inside someone's coroutine
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = following[1] if following and following[0] == "text" else None
        found.append((f"block{index}", body, expected))
    return found


PROGRAMS = programs()


def test_the_readme_has_its_programs() -> None:
    assert len(PROGRAMS) >= 8
    assert sum(expected is not None for _, _, expected in PROGRAMS) >= 5


def test_the_quickstart_holds_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert commands == [
        "pip install '.[cli]' && python -m telemetry_actors demo\n"
        "pip install '.[test]' && python -m pytest -q\n"
    ]


@pytest.mark.parametrize(
    ("code", "expected"), [p[1:] for p in PROGRAMS], ids=[p[0] for p in PROGRAMS]
)
def test_a_readme_program_prints_what_the_readme_says(
    code: str, expected: str | None, tmp_path: Path
) -> None:
    if "pd.read_csv" in code:  # the pandas recipe reads a demo's files
        demo = [sys.executable, "-m", "telemetry_actors", "demo", "--no-live", "--duration", "1"]
        out = ["--out", str(tmp_path / "exports" / "demo-20260101-000000")]
        subprocess.run(demo + out, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if expected is not None:
        assert result.stdout == expected
    else:
        assert result.stdout.strip() or "pd.read_csv" not in code
