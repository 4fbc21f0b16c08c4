"""The control socket's transport: the protocol, the server that serves it, its connections.

It serves a ``VerbTable`` (``daemon.verbs``) and knows no component: the tree assembly gives it every
component's verbs. ``CONTROL`` (daemon/control/component.py) puts ``control_child_spec`` last in the
tree. ``docs/control-protocol.md`` documents the protocol for clients in any language; the client
is ``daemon.ctl``.

The verb framework's names (``Method``, ``MethodContext``, ...) and the client's (``ControlClient``,
...) were once defined here; they stay importable from here as aliases of their new homes.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.control.component import CONTROL, control_child_spec
    from daemon.control.config import CONTROL_SERVER_NAME, ControlSettings
    from daemon.control.protocol import PROTOCOL_VERSION
    from daemon.control.server import ControlServer, ControlStatistics
    from daemon.control.unix_socket import check_directory, claim_path
    from daemon.ctl.client import ControlClient, ControlReplyError, open_control_client
    from daemon.verbs.codes import ErrorCode
    from daemon.verbs.method import (
        Connection,
        DaemonContext,
        Method,
        MethodContext,
        NoParams,
        VerbTable,
        methods_by_name,
    )

__all__ = [
    "CONTROL",
    "CONTROL_SERVER_NAME",
    "PROTOCOL_VERSION",
    "Connection",
    "ControlClient",
    "ControlReplyError",
    "ControlServer",
    "ControlSettings",
    "ControlStatistics",
    "DaemonContext",
    "ErrorCode",
    "Method",
    "MethodContext",
    "NoParams",
    "VerbTable",
    "check_directory",
    "claim_path",
    "control_child_spec",
    "methods_by_name",
    "open_control_client",
]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "CONTROL": "daemon.control.component",
        "CONTROL_SERVER_NAME": "daemon.control.config",
        "ControlServer": "daemon.control.server",
        "ControlSettings": "daemon.control.config",
        "ControlStatistics": "daemon.control.server",
        "PROTOCOL_VERSION": "daemon.control.protocol",
        "check_directory": "daemon.control.unix_socket",
        "claim_path": "daemon.control.unix_socket",
        "control_child_spec": "daemon.control.component",
        "ControlClient": "daemon.ctl.client",
        "ControlReplyError": "daemon.ctl.client",
        "open_control_client": "daemon.ctl.client",
        "ErrorCode": "daemon.verbs.codes",
        "Connection": "daemon.verbs.method",
        "DaemonContext": "daemon.verbs.method",
        "Method": "daemon.verbs.method",
        "MethodContext": "daemon.verbs.method",
        "NoParams": "daemon.verbs.method",
        "VerbTable": "daemon.verbs.method",
        "methods_by_name": "daemon.verbs.method",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
