"""The ``telemetry-actors`` command line and the demo study behind it.

Needs the ``cli`` extra (``pip install 'telemetry-actors[cli]'``) for click,
rich and matplotlib. The simulation itself (:func:`run_demo`) needs none of
them, so importing this package stays light; :func:`main` loads the rest.
"""

from __future__ import annotations

import sys

from ._demo import ConditionView as ConditionView
from ._demo import DemoConfig as DemoConfig
from ._demo import DemoResult as DemoResult
from ._demo import Progress as Progress
from ._demo import TraceSummary as TraceSummary
from ._demo import run_demo as run_demo
from ._simclock import SimulatedClock as SimulatedClock

__all__ = [
    "ConditionView",
    "DemoConfig",
    "DemoResult",
    "Progress",
    "SimulatedClock",
    "TraceSummary",
    "main",
    "run_demo",
]

_MISSING_EXTRA = (
    "telemetry-actors: the command line needs the 'cli' extra ({missing} is not installed); "
    "install it with: pip install 'telemetry-actors[cli]'"
)


def main() -> None:
    """Run the command line; exit with a one-line hint when the ``cli`` extra is missing."""
    try:
        from ._app import main as app_main
    except ModuleNotFoundError as error:
        if error.name not in ("click", "rich", "matplotlib"):
            raise
        print(_MISSING_EXTRA.format(missing=error.name), file=sys.stderr)
        raise SystemExit(1) from None
    app_main()
