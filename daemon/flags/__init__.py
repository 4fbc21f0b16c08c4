"""Feature flags and the migration toolkit.

On this branch only the experiments (``experiment``, docs/migrations.md, "Experiments"); the flags
server and its binding join this package's surface when the branches are merged.
"""

from __future__ import annotations

from daemon.flags.experiments import experiment

__all__ = ["experiment"]
