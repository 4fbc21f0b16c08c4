"""The user's own servers: ``[servers.<name>]`` sections, started under ``arbord.servers``.

docs/operations.md shows how to add one; ``SERVERS`` (daemon/servers/component.py) is the component.
"""

from __future__ import annotations

from daemon.servers.component import (
    SERVERS,
    SERVERS_ID,
    SERVERS_NAME,
    ServersView,
    server_spec,
    servers_supervisor_spec,
    supervisor_flags,
)
from daemon.servers.config import ServerSection, ServersSection

__all__ = [
    "SERVERS",
    "SERVERS_ID",
    "SERVERS_NAME",
    "ServerSection",
    "ServersSection",
    "ServersView",
    "server_spec",
    "servers_supervisor_spec",
    "supervisor_flags",
]
