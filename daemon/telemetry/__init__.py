"""The telemetry server (``arbord.telemetry``): sampled events, sampling, exact accounting, metrics and
their export. See ``docs/telemetry.md``.

The sampled events' binding names: ``Emitter``, ``emit_once_per``, ``batch``, ``summarize_batch`` and
the server's registered name ``SERVER_NAME`` (``"arbord.telemetry"``).
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.telemetry.accounting import COUNTERS, DROP_REASONS, EventStats
    from daemon.telemetry.events import SLOW_HANDLER, Emitter, SpanScope, batch, emit, emit_once_per
    from daemon.telemetry.hub import SERVER_NAME, stats_snapshot
    from daemon.telemetry.summary import summarize_batch


__all__ = [
    "COUNTERS",
    "DROP_REASONS",
    "SERVER_NAME",
    "SLOW_HANDLER",
    "Emitter",
    "EventStats",
    "SpanScope",
    "batch",
    "emit",
    "emit_once_per",
    "stats_snapshot",
    "summarize_batch",
]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "COUNTERS": "daemon.telemetry.accounting",
        "DROP_REASONS": "daemon.telemetry.accounting",
        "Emitter": "daemon.telemetry.events",
        "EventStats": "daemon.telemetry.accounting",
        "SERVER_NAME": "daemon.telemetry.hub",
        "SLOW_HANDLER": "daemon.telemetry.events",
        "SpanScope": "daemon.telemetry.events",
        "batch": "daemon.telemetry.events",
        "emit": "daemon.telemetry.events",
        "emit_once_per": "daemon.telemetry.events",
        "stats_snapshot": "daemon.telemetry.hub",
        "summarize_batch": "daemon.telemetry.summary",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
