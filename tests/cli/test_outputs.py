"""Output paths the CLI cannot write give one ``Error: ...`` line and exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from .helpers import assert_one_line_error, invoke

needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


@pytest.fixture
def archive(demo_run: tuple[Path, Result]) -> Path:
    return demo_run[0] / "ab-single.archive.jsonl"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


def test_plot_to_an_unsupported_suffix(archive: Path, tmp_path: Path) -> None:
    result = invoke("plot", archive, "-o", tmp_path / "out.xyz")
    line = assert_one_line_error(result, "out.xyz", "'.xyz'")
    assert line.endswith("use .png, .svg, .pdf, .jpg or .jpeg")
    assert not (tmp_path / "out.xyz").exists()


def test_plot_to_a_name_without_suffix(archive: Path, tmp_path: Path) -> None:
    result = invoke("plot", archive, "-o", tmp_path / "windows")
    assert_one_line_error(result, "has no image suffix", "use .png, .svg")


@pytest.mark.parametrize("suffix", [".svg", ".PDF"])
def test_plot_to_other_image_formats(archive: Path, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"windows{suffix}"
    result = invoke("plot", archive, "-o", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:5] in (b"<?xml", b"%PDF-")


@needs_proc
@pytest.mark.parametrize(
    ("command", "target"),
    [(["plot"], "/proc/x.png"), (["export"], "/proc/x.csv"), (["export"], "/proc/x/y.csv")],
)
def test_unwritable_output(archive: Path, command: list[str], target: str) -> None:
    result = invoke(*command, archive, "-o", target)
    assert_one_line_error(result, f"cannot write {target}: ")


@pytest.mark.parametrize(("command", "name"), [("plot", "x.png"), ("export", "x.csv")])
def test_output_under_a_file(archive: Path, a_file: Path, command: str, name: str) -> None:
    result = invoke(command, archive, "-o", a_file / name)
    assert_one_line_error(result, f"cannot write {a_file / name}: ", "not a folder")


@pytest.mark.parametrize("command", ["plot", "export"])
def test_output_is_a_folder(archive: Path, tmp_path: Path, command: str) -> None:
    result = invoke(command, archive, "-o", tmp_path)
    assert_one_line_error(result, f"cannot write {tmp_path}: it is a folder; give a file name")


@needs_proc
def test_demo_into_an_unwritable_folder() -> None:
    result = invoke("demo", "--no-live", "--duration", "0.2", "--out", "/proc/demo-out")
    assert_one_line_error(result, "cannot write into /proc/demo-out: ")


def test_demo_into_a_file(a_file: Path) -> None:
    result = invoke("demo", "--no-live", "--duration", "0.2", "--out", a_file)
    assert_one_line_error(result, f"cannot write into {a_file}: it is a file, not a folder")


def test_demo_under_a_file(a_file: Path) -> None:
    result = invoke("demo", "--no-live", "--duration", "0.2", "--out", a_file / "out")
    assert_one_line_error(result, f"cannot write into {a_file / 'out'}: ", "not a folder")
