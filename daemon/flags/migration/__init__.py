"""Staged migrations and their automatic rollback (docs/migrations.md): plans of stages, each a set
of flags, cumulative both ways; a verdict engine that judges a stage or a percentage rollout from
telemetry; and ``MigrationControl``, the supervised server that rolls back when the verdicts say so."""

from __future__ import annotations

from daemon.flags.migration.plan import BUILT_IN_PLANS, OTP_CLEANUP, MigrationPlan, Risk, Stage

__all__ = ["BUILT_IN_PLANS", "OTP_CLEANUP", "MigrationPlan", "Risk", "Stage"]
