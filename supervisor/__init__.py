"""arbord's generic OTP library for asyncio: servers, supervisors, monitors, names, tables, telemetry.

This package knows nothing of the arbord daemon; it is the part you build your own services on.

>>> import asyncio
>>> from supervisor import ChildSpec, Server, Supervisor, whereis
>>> class Echo(Server):
...     async def handle_call(self, request: object, caller: object) -> object:
...         return request
>>> async def demo() -> object:
...     async with Supervisor([ChildSpec("echo", Echo, name="echo")]):
...         return await whereis("echo").call("hello")
>>> asyncio.run(demo())
'hello'

Everything listed in ``__all__`` is public and stable; the submodules' other names are internals.
"""

from __future__ import annotations

from supervisor import telemetry
from supervisor.calls import call, cast
from supervisor.childspec import DEFAULT_WORKER_SHUTDOWN, ChildSpec, ChildType, Restart, Shutdown
from supervisor.clock import Clock, ManualClock, MonotonicClock
from supervisor.dynamic import DynamicSupervisor
from supervisor.errors import (
    AccessDenied,
    AlreadyStarted,
    ArbordError,
    CallingSelf,
    CallTimeout,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    HandlerExists,
    HandlerNotFound,
    InitIgnored,
    InvalidChildSpec,
    InvalidSupervisorFlags,
    MaxChildren,
    NoProc,
    NotInServer,
    ServerExited,
    StartFailed,
    TableError,
    TableGone,
    TableNameTaken,
    UnknownRequest,
)
from supervisor.exits import KILLED, NOPROC, NORMAL, SHUTDOWN, Exit, ExitKind, crash, shutdown
from supervisor.flags import SupervisorFlags
from supervisor.monitors import Down, MonitorRef, demonitor, monitor
from supervisor.runtime import (
    Process,
    current_process,
    current_server,
    is_alive,
    registered_names,
    whereis,
)
from supervisor.server import NOREPLY, TIMEOUT, Caller, Ignore, Server, ServerStatistics, Stop
from supervisor.supervisor import (
    DEFAULT_INTENSITY,
    DEFAULT_KILL_GRACE,
    DEFAULT_PERIOD,
    AutoShutdown,
    ChildCounts,
    ChildInfo,
    ChildState,
    Strategy,
    Supervisor,
)
from supervisor.tables import (
    ANY,
    BINDINGS,
    END_OF_TABLE,
    WHOLE,
    Access,
    Clause,
    Continuation,
    GuardedGetter,
    MatchSpec,
    Row,
    Table,
    TableInfo,
    TableTransfer,
    TableType,
    Transaction,
    Var,
    whereis_table,
)

__all__ = [
    "ANY",
    "BINDINGS",
    "DEFAULT_INTENSITY",
    "DEFAULT_KILL_GRACE",
    "DEFAULT_PERIOD",
    "DEFAULT_WORKER_SHUTDOWN",
    "END_OF_TABLE",
    "KILLED",
    "NOPROC",
    "NOREPLY",
    "NORMAL",
    "SHUTDOWN",
    "TIMEOUT",
    "WHOLE",
    "Access",
    "AccessDenied",
    "AlreadyStarted",
    "ArbordError",
    "AutoShutdown",
    "CallTimeout",
    "Caller",
    "CallingSelf",
    "ChildAlreadyPresent",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildState",
    "ChildType",
    "Clause",
    "Clock",
    "Continuation",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "ExitKind",
    "GuardedGetter",
    "HandlerExists",
    "HandlerNotFound",
    "Ignore",
    "InitIgnored",
    "InvalidChildSpec",
    "InvalidSupervisorFlags",
    "ManualClock",
    "MatchSpec",
    "MaxChildren",
    "MonitorRef",
    "MonotonicClock",
    "NoProc",
    "NotInServer",
    "Process",
    "Restart",
    "Row",
    "Server",
    "ServerExited",
    "ServerStatistics",
    "Shutdown",
    "StartFailed",
    "Stop",
    "Strategy",
    "Supervisor",
    "SupervisorFlags",
    "Table",
    "TableError",
    "TableGone",
    "TableInfo",
    "TableNameTaken",
    "TableTransfer",
    "TableType",
    "Transaction",
    "UnknownRequest",
    "Var",
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
    "whereis_table",
]
