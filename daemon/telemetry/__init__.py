"""The telemetry server (``arbord.telemetry``): sampled events, sampling, exact accounting, metrics and
their export. See ``docs/telemetry.md``.

The sampled events' binding names: ``Emitter``, ``emit_once_per``, ``batch``, ``summarize_batch`` and
the server's registered name ``SERVER_NAME`` (``"arbord.telemetry"``).
"""

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
