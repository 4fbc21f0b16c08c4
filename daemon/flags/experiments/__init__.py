"""Experiments (GitHub's Scientist for a migration): run a candidate beside the code in force, answer
with the code in force, count how often they agree. docs/migrations.md, "Experiments".

``experiment`` (``run.py``) is the call; its outcomes go, from the caller's task, into the tables
(``table.py``) of a server that only owns them (``server.py``, ``arbord.experiments``); the
``migration.experiments`` verb (``verbs.py``) reads them; ``component.py`` puts the server in the tree.
"""

from __future__ import annotations

from daemon.flags.experiments.run import (
    DEFAULT_TIMEOUT,
    ERROR,
    MATCH,
    MISMATCH,
    TIMEOUT,
    Observation,
    experiment,
    judge,
)
from daemon.flags.experiments.server import EXPERIMENTS_NAME, Experiments
from daemon.flags.experiments.table import MISMATCHES_KEPT, SAMPLES, ExperimentReport, read_report

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERROR",
    "EXPERIMENTS_NAME",
    "MATCH",
    "MISMATCH",
    "MISMATCHES_KEPT",
    "SAMPLES",
    "TIMEOUT",
    "ExperimentReport",
    "Experiments",
    "Observation",
    "experiment",
    "judge",
    "read_report",
]
