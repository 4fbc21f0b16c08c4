# arbord's own package: the console scripts look for this line (_arbord_entry.py).
"""arbord's generic OTP library for asyncio: servers, supervisors, monitors, names, tables, telemetry.

This package knows nothing of the arbord daemon; it is the part you build your own services on.

>>> import asyncio
>>> from supervisor import ChildSpec, Server, Supervisor, call
>>> class Echo(Server):
...     async def handle_call(self, request: object, caller: object) -> object:
...         return request
>>> async def demo() -> object:
...     async with Supervisor([ChildSpec("echo", Echo, name="echo")]):
...         return await call("echo", "hello")
>>> asyncio.run(demo())
'hello'

The public surface comes in tiers, each a module with its own ``__all__``:

- ``supervisor``: the core: servers, supervisors and their specs and flags, exit reasons, monitors,
  names, ``Table`` and the errors a caller meets most;
- ``supervisor.tables``: everything about owned tables (queries, match specs, transactions, transfers);
- ``supervisor.errors``: every error, in a hierarchy drawn in its docstring;
- ``supervisor.telemetry``: the event bus;
- ``supervisor.testing``: helpers for tests (a manual clock, telemetry capture, ``settle``);
- ``supervisor.lowlevel``: building blocks for servers of your own kind (owner tracking, exit
  callbacks, the tables' core, the clock protocol).

The modules whose names start with ``_`` are the implementation; their contents may move. Every public
object says where to import it from (``Server.__module__ == "supervisor"``). Names this package
exported before the tiers existed (``supervisor.MatchSpec``, ``supervisor.ManualClock``, ...) still
import from here, as aliases of their tier's object, but are no longer listed in ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import Final

from supervisor import telemetry
from supervisor._calls import call, cast
from supervisor._child_records import ChildCounts, ChildInfo, ChildState
from supervisor._childspec import ChildSpec, ChildType, Restart, Shutdown
from supervisor._dynamic import DynamicSupervisor
from supervisor._exits import KILLED, NOPROC, NORMAL, SHUTDOWN, Exit, ExitKind, crash, shutdown
from supervisor._flags import AutoShutdown, Strategy, SupervisorFlags
from supervisor._monitors import Down, MonitorRef, demonitor, monitor
from supervisor._runtime import current_process, current_server, is_alive, registered_names, whereis
from supervisor._server import NOREPLY, TIMEOUT, Caller, Ignore, Server, ServerStatistics, Stop
from supervisor._supervisor import Supervisor
from supervisor.errors import (
    ArbordError,
    CallTimeout,
    NoProc,
    ServerDown,
    ServerExited,
    StartFailed,
    SupervisorGaveUp,
)
from supervisor.tables import Access, Table, TableType

__all__ = [
    "KILLED",
    "NOPROC",
    "NOREPLY",
    "NORMAL",
    "SHUTDOWN",
    "TIMEOUT",
    "Access",
    "ArbordError",
    "AutoShutdown",
    "CallTimeout",
    "Caller",
    "ChildCounts",
    "ChildInfo",
    "ChildSpec",
    "ChildState",
    "ChildType",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "ExitKind",
    "Ignore",
    "MonitorRef",
    "NoProc",
    "Restart",
    "Server",
    "ServerDown",
    "ServerExited",
    "ServerStatistics",
    "Shutdown",
    "StartFailed",
    "Stop",
    "Strategy",
    "Supervisor",
    "SupervisorFlags",
    "SupervisorGaveUp",
    "Table",
    "TableType",
    "call",
    "cast",
    "crash",
    "current_process",
    "current_server",
    "demonitor",
    "is_alive",
    "monitor",
    "registered_names",
    "shutdown",
    "telemetry",
    "whereis",
]

# Where users import them from (as trio and anyio do): reprs, docs and pickles say ``supervisor``.
for _public in (
    call,
    cast,
    ChildCounts,
    ChildInfo,
    ChildState,
    ChildSpec,
    ChildType,
    Restart,
    Shutdown,
    DynamicSupervisor,
    Exit,
    ExitKind,
    crash,
    shutdown,
    AutoShutdown,
    Strategy,
    SupervisorFlags,
    Down,
    MonitorRef,
    demonitor,
    monitor,
    current_process,
    current_server,
    is_alive,
    registered_names,
    whereis,
    Caller,
    Ignore,
    Server,
    ServerStatistics,
    Stop,
    Supervisor,
):
    _public.__module__ = __name__
del _public

_MOVED: Final = {
    # name: the tier it lives in now (kept importable from here for code written before the tiers)
    **dict.fromkeys(
        (
            "ANY",
            "BINDINGS",
            "END_OF_TABLE",
            "WHOLE",
            "Clause",
            "Continuation",
            "MatchSpec",
            "Row",
            "TableInfo",
            "TableTransfer",
            "Transaction",
            "Var",
            "whereis_table",
        ),
        "supervisor.tables",
    ),
    **dict.fromkeys(
        (
            "AccessDenied",
            "AlreadyStarted",
            "CallingSelf",
            "ChildAlreadyPresent",
            "ChildNotFound",
            "ChildRestarting",
            "ChildRunning",
            "HandlerExists",
            "HandlerNotFound",
            "InitIgnored",
            "InvalidChildSpec",
            "InvalidSupervisorFlags",
            "MaxChildren",
            "NotInServer",
            "TableError",
            "TableGone",
            "TableNameTaken",
            "UnknownRequest",
        ),
        "supervisor.errors",
    ),
    **dict.fromkeys(("Clock", "MonotonicClock", "GuardedGetter", "Process"), "supervisor.lowlevel"),
    "ManualClock": "supervisor.testing",
    **dict.fromkeys(("DEFAULT_INTENSITY", "DEFAULT_KILL_GRACE", "DEFAULT_PERIOD"), "supervisor._flags"),
    "DEFAULT_WORKER_SHUTDOWN": "supervisor._childspec",
}


def __getattr__(name: str) -> object:
    """The names that moved to a tier, still importable from here (not listed in ``__all__``)."""
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'supervisor' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
