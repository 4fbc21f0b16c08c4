"""The verbs every daemon has whatever its components, and the error codes of the library's errors.

``core_methods()``: hello, methods, version, ping, status, reload, config.*, shutdown, the tree verbs
and tables.*. ``CORE_ERROR_MAP``: how the supervisor library's refusals are answered (a missing child
is ``not_found``, a server that is down (``ServerDown``: ``NoProc``, or ``ServerExited`` for a call
in flight when it died) ``server_down``, a child already there or running ``conflict``; a call that
timed out is a ``TimeoutError``, answered ``timeout`` whatever the map). The components add their
own verbs and codes (``daemon.component``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from daemon.verbs.codes import ErrorCode
from daemon.verbs.error_codes import ErrorRule
from daemon.verbs.method import Method
from supervisor import ServerDown, StartFailed
from supervisor.errors import (
    AlreadyStarted,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    MaxChildren,
    TableGone,
)

__all__ = ["CORE_ERROR_MAP", "core_methods"]


def _start_failed(error: Any) -> str:
    return f"the child failed to start: {error.reason!r}"


CORE_ERROR_MAP: Final[MappingProxyType[type[BaseException], ErrorRule]] = MappingProxyType(
    {
        ChildNotFound: ErrorCode.NOT_FOUND,
        ServerDown: ErrorCode.SERVER_DOWN,
        TableGone: ErrorCode.NOT_FOUND,
        AlreadyStarted: ErrorCode.CONFLICT,
        ChildAlreadyPresent: ErrorCode.CONFLICT,
        ChildRunning: ErrorCode.CONFLICT,
        ChildRestarting: ErrorCode.CONFLICT,
        MaxChildren: ErrorCode.CONFLICT,
        StartFailed: (ErrorCode.CONFLICT, _start_failed),
    }
)
"""The supervisor library's errors → error codes (checked in this order)."""


def core_methods() -> tuple[Method, ...]:
    """hello, version, ping, status, reload, config.*, shutdown, the tree methods and tables.*.

    The verb modules are imported here, when the daemon builds its verb table (its first request),
    not when the tree is assembled."""
    from daemon.verbs.daemon_verbs import daemon_methods
    from daemon.verbs.table_verbs import table_methods
    from daemon.verbs.tree_verbs import tree_methods

    return (*daemon_methods(), *tree_methods(), *table_methods())
