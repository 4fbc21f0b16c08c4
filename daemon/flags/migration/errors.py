"""The migrations' errors, each with the error code a verb that lets it escape is answered with.

Every one is raised before anything is written: a refused request changes nothing.
"""

from __future__ import annotations

from daemon.errors import DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = [
    "CoolingDown",
    "InvalidRollback",
    "MigrationError",
    "NotReady",
    "SkippedStage",
    "StageOutOfRange",
    "UnknownPlan",
]


class MigrationError(DaemonError):
    """Base of the migrations' refusals."""

    code = ErrorCode.CONFLICT


class UnknownPlan(MigrationError, LookupError):
    """No plan of that name is declared (nor built in)."""

    code = ErrorCode.NOT_FOUND


class StageOutOfRange(MigrationError, ValueError):
    """A stage number outside ``0..len(stages)``."""

    code = ErrorCode.INVALID_PARAMS


class SkippedStage(MigrationError):
    """An advance that names a stage other than the next one: stages are taken one at a time."""


class InvalidRollback(MigrationError):
    """A rollback to the current stage or a later one."""


class CoolingDown(MigrationError):
    """An advance while the cool-down after a rollback still runs."""


class NotReady(MigrationError):
    """An advance refused by a readiness check; ``failed`` names each check and why."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__("not ready to advance: " + "; ".join(failed))
        self.failed = failed
