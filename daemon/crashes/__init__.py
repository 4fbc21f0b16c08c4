"""Crash records: one per crash a supervisor of the daemon handles, kept by ``arbord.crashes`` and
shown by ``arborctl crashes`` (docs/context.md, "Crash records")."""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.crashes.record import CrashRecord, exception_chain
    from daemon.crashes.server import CRASHES_NAME, CrashLog, OpenSpansHook, no_open_spans


__all__ = ["CRASHES_NAME", "CrashLog", "CrashRecord", "OpenSpansHook", "exception_chain", "no_open_spans"]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "CRASHES_NAME": "daemon.crashes.server",
        "CrashLog": "daemon.crashes.server",
        "CrashRecord": "daemon.crashes.record",
        "OpenSpansHook": "daemon.crashes.server",
        "exception_chain": "daemon.crashes.record",
        "no_open_spans": "daemon.crashes.server",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
