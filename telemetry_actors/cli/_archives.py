"""Loading archive files for the CLI commands, and the windows they plot.

Every failure to load becomes an :class:`ArchiveError` whose message is one
line naming the file, so the CLI can print it without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import Experiment, Runtime, WindowMetrics
from ._errors import ArchiveError

__all__ = ["choose_window_us", "label_of", "load_archives", "windows_of"]


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def load_archives(rt: Runtime, paths: Sequence[Path]) -> list[Experiment]:
    """Load each archive into ``rt``, in order.

    Raises:
        ArchiveError: a file is missing, unreadable, malformed, or holds an
            experiment that is already loaded.
    """
    experiments = []
    for path in paths:
        try:
            experiments.append(await rt.load_archive(path))
        except FileNotFoundError:
            raise ArchiveError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise ArchiveError(f"{path} is a folder, not an archive file") from None
        except OSError as error:
            raise ArchiveError(f"cannot read {path}: {error.strerror or error}") from None
        except ValueError as error:
            message = _one_line(str(error))
            if message.startswith(str(path)):  # a malformed file: the message names the line
                raise ArchiveError(f"not a valid archive: {message}") from None
            raise ArchiveError(f"cannot load {path}: {message}") from None
    return experiments


def label_of(experiment: Experiment) -> str:
    """How tables and plots name an experiment: its name, and its condition if not default."""
    if experiment.condition == "default":
        return experiment.name
    return f"{experiment.name} ({experiment.condition})"


def choose_window_us(span_us: int, windows: int = 30) -> int:
    """A window size in whole seconds (at least one) that cuts ``span_us`` into ``windows``."""
    return max(1_000_000, span_us // windows // 1_000_000 * 1_000_000)


async def windows_of(
    rt: Runtime, experiments: Sequence[Experiment]
) -> tuple[dict[str, list[WindowMetrics]], int, int]:
    """Windowed metrics of each experiment over their common time span.

    Returns:
        ``(label -> windows, window_us, origin_us)``, the window size chosen to
        cut the whole span into about 30 windows and ``origin_us`` its start.
    """
    ranges = []
    for experiment in experiments:
        time_range = (await rt.calculate_metrics(experiment.id)).summary.time_range
        if time_range is not None:
            ranges.append(time_range)
    if not ranges:
        return {label_of(experiment): [] for experiment in experiments}, 1_000_000, 0
    origin = min(start for start, _ in ranges)
    window_us = choose_window_us(max(end for _, end in ranges) - origin)
    series = {
        label_of(experiment): await rt.windowed_metrics(experiment.id, window_us, window_us)
        for experiment in experiments
    }
    return series, window_us, origin
