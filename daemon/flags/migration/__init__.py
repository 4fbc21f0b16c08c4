"""Staged migrations and their automatic rollback (docs/migrations.md): plans of stages, each a set
of flags, cumulative both ways; a verdict engine that judges a stage or a percentage rollout from
telemetry; and ``MigrationControl``, the supervised server that rolls back when the verdicts say so."""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.flags.migration.plan import BUILT_IN_PLANS, OTP_CLEANUP, MigrationPlan, Risk, Stage


__all__ = ["BUILT_IN_PLANS", "OTP_CLEANUP", "MigrationPlan", "Risk", "Stage"]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "BUILT_IN_PLANS": "daemon.flags.migration.plan",
        "MigrationPlan": "daemon.flags.migration.plan",
        "OTP_CLEANUP": "daemon.flags.migration.plan",
        "Risk": "daemon.flags.migration.plan",
        "Stage": "daemon.flags.migration.plan",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
