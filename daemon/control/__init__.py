"""The control socket's transport: the protocol, the server that serves it, its connections.

It serves a ``VerbTable`` (``daemon.verbs``) and knows no component: the tree assembly gives it every
component's verbs. ``CONTROL`` (daemon/control/component.py) puts ``control_child_spec`` last in the
tree. ``docs/control-protocol.md`` documents the protocol for clients in any language; the client
is ``daemon.ctl``.

The verb framework's names (``Method``, ``MethodContext``, ...) and the client's (``ControlClient``,
...) were once defined here; they stay importable from here as aliases of their new homes.
"""

from __future__ import annotations

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
