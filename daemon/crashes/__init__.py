"""Crash records: one per crash a supervisor of the daemon handles, kept by ``arbord.crashes`` and
shown by ``arborctl crashes`` (docs/context.md, "Crash records")."""

from daemon.crashes.record import CrashRecord, exception_chain
from daemon.crashes.server import CRASHES_NAME, CrashLog, OpenSpansHook, no_open_spans

__all__ = ["CRASHES_NAME", "CrashLog", "CrashRecord", "OpenSpansHook", "exception_chain", "no_open_spans"]
