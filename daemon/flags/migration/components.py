"""arbord's own migrated components, the flag that switches each, and the flags' built-in declarations.

Each migrated component has one interface with two paths, the supervised one and its legacy twin
(``daemon/legacy/``), and reads one flag of the ``otp_cleanup`` plan per call
(``daemon.flags.migration.backend.use_supervised``) to choose. ``MIGRATED`` says which flag is whose.

The seven flags of the plan are **declared by arbord itself** (``OTP_CLEANUP_DECLARATIONS``, merged
into ``[flags]`` under any declaration of the same name in the configuration), so a fresh daemon
keeps serving from the supervised paths: the component flags default to true, the enforcement to
false, which reads as stage 3 of ``otp_cleanup``. A rollback writes the flags, so ``arborctl
migration rollback 0`` sends every component to its legacy path and ``advance`` brings them back
(docs/migrations.md, "Why the flags default to true").

>>> from daemon.flags.migration.plan import OTP_CLEANUP
>>> plan_flags = {flag for stage in OTP_CLEANUP.stages for flag in stage.flags}
>>> plan_flags == set(OTP_CLEANUP_DECLARATIONS)
True
>>> OTP_CLEANUP.stage_of({f: d["default"] for f, d in OTP_CLEANUP_DECLARATIONS.items()})
3
>>> dict(MIGRATED)["registry"]
'use_ets_agent_registry'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = ["MIGRATED", "OTP_CLEANUP_DECLARATIONS"]

MIGRATED: Final[tuple[tuple[str, str], ...]] = (
    ("registry", "use_ets_agent_registry"),
    ("error_context", "use_logger_error_context"),
    ("span_management", "use_genserver_span_management"),
    ("sampled_events", "use_ets_sampled_events"),
)
"""``(component, flag)``: the flag that sends each migrated component to its supervised path."""


def _declared(description: str, default: bool) -> Mapping[str, Any]:
    return MappingProxyType({"description": description, "owner": "arbord", "default": default})


OTP_CLEANUP_DECLARATIONS: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "use_ets_agent_registry": _declared("the registry on its tables (off: the legacy dict)", True),
        "enable_migration_monitoring": _declared("otp_cleanup stage 1: migration monitoring", True),
        "use_logger_error_context": _declared(
            "error context in daemon.context (off: the legacy per-task dict)", True
        ),
        "use_genserver_telemetry": _declared("otp_cleanup stage 3: the telemetry server", True),
        "use_genserver_span_management": _declared(
            "span stacks in the span server (off: the legacy per-task dict)", True
        ),
        "use_ets_sampled_events": _declared(
            "sampled events on the telemetry tables (off: the legacy dicts)", True
        ),
        "enforce_no_process_dict": _declared(
            "refuse user servers whose modules keep hidden state (docs/migrations.md)", False
        ),
    }
)
"""The ``[flags.<name>]`` declarations arbord makes for ``otp_cleanup``'s seven flags."""
