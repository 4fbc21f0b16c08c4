"""``arborctl console``: attach this terminal to the daemon's console over its Unix socket.

aiomonitor's own client (``python -m aiomonitor.cli``) speaks telnet over TCP only; this one is the
same client with its connection opened on the console's Unix socket. It needs a terminal. Like every
client of the daemon, it checks the socket is the daemon's before it sends a keystroke
(daemon/ctl/trust.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from aiomonitor.telnet import TelnetClient

from daemon.ctl.discovery import default_socket_path
from daemon.ctl.trust import UntrustedSocket, check_server, expected_server_uids, trusted_socket_path

__all__ = ["UnixTelnetClient", "attach_console", "console_socket_path"]

_NEGOTIATION_GRACE: Final = 0.3  # as aiomonitor's client: let the telnet options settle


class UnixTelnetClient(TelnetClient):  # type: ignore[misc]
    """aiomonitor's telnet client, connected to a Unix socket instead of host:port."""

    def __init__(self, path: Path, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        super().__init__("unix", 0, stdin, stdout)
        self._path = path

    async def __aenter__(self) -> UnixTelnetClient:
        caller = os.getuid()
        real, owner = trusted_socket_path(self._path, os.environ, caller)
        self._conn_reader, self._conn_writer = await asyncio.open_unix_connection(str(real))
        try:
            expected = expected_server_uids(owner, os.environ, caller)
            check_server(self._conn_writer.get_extra_info("socket"), expected, self._path)
        except BaseException:
            self._conn_writer.close()
            raise
        self._closed = asyncio.Event()
        self._stdin_reader, self._stdout_writer = await self._create_stdio_streams()
        self._recv_task = asyncio.create_task(self._handle_received())
        self._input_task = asyncio.create_task(self._handle_user_input())
        await asyncio.sleep(_NEGOTIATION_GRACE)
        self._saved_mode = self.get_mode()
        if self._isatty and self._saved_mode is not None:
            self.set_mode(self.determine_mode(self._saved_mode))
        return self


def console_socket_path(words: Sequence[str], control_socket: Path | None) -> Path:
    """The console socket: the word given, else ``console.sock`` next to the control socket."""
    if words:
        return Path(words[0])
    if control_socket is not None:
        return control_socket.parent / "console.sock"
    return default_socket_path(os.environ, Path.cwd()).parent / "console.sock"


async def _attach(path: Path) -> None:
    client: Any
    async with UnixTelnetClient(path) as client:
        await client.interact()


def attach_console(words: Sequence[str], control_socket: Path | None, err: TextIO) -> int:
    """Attach to the console; returns arborctl's exit code (2 without a terminal, 3 no console,
    4 permission denied)."""
    if len(words) > 1:
        print("arborctl: usage: arborctl console [SOCKET]", file=err)
        return 2
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("arborctl: the console needs a terminal (use arborctl VERB for scripts)", file=err)
        return 2
    path = console_socket_path(words, control_socket)
    try:
        asyncio.run(_attach(path))
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"arborctl: no console on {path} (is [console] enabled and the daemon running?)", file=err)
        return 3
    except UntrustedSocket as error:
        print(f"arborctl: {error}", file=err)
        return 4
    except PermissionError:
        print(f"arborctl: permission denied on {path}", file=err)
        return 4
    except KeyboardInterrupt:
        pass
    return 0
