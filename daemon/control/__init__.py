"""The control socket: the protocol, the server that serves it, and the methods it dispatches to.

``control_child_spec`` is what the tree assembly adds as the root's last child; ``core_methods`` are
the methods every daemon has (``methods_by_name`` merges them with the servers' own groups).
``docs/control-protocol.md`` documents the protocol for clients in any language.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from daemon.control.client import ControlClient, ControlReplyError, open_control_client
from daemon.control.codes import ErrorCode
from daemon.control.config import CONTROL_SERVER_NAME, ControlSettings
from daemon.control.core import core_methods
from daemon.control.methods import (
    Connection,
    DaemonContext,
    Method,
    MethodContext,
    NoParams,
    methods_by_name,
)
from daemon.control.protocol import PROTOCOL_VERSION
from daemon.control.server import ControlServer, ControlStatistics
from daemon.control.unix_socket import check_directory, claim_path
from supervisor import ChildSpec

__all__ = [
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
    "check_directory",
    "claim_path",
    "control_child_spec",
    "core_methods",
    "methods_by_name",
    "open_control_client",
]


def control_child_spec(
    settings: ControlSettings,
    socket_path: Path,
    context: DaemonContext,
    methods: Mapping[str, Method],
) -> ChildSpec:
    """The control server as a child of the root (add it last, so it stops first).

    Registered as ``arbord.control``; its shutdown allows the drain (``drain_timeout``) plus a margin.
    Its start raises (as ``StartFailed`` from the tree) ``daemon.errors.AlreadyRunning`` when a live
    daemon answers on ``socket_path`` and ``ControlSocketError`` when the socket cannot be made safe.
    """
    return ChildSpec(
        "control",
        ControlServer,
        args=(settings, socket_path, context, dict(methods)),
        shutdown=settings.drain_timeout + 2.0,
        name=CONTROL_SERVER_NAME,
    )
