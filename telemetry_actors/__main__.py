"""``python -m telemetry_actors``: the ``telemetry-actors`` command line."""

from .cli import main

if __name__ == "__main__":
    main()
