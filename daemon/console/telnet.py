"""The console's listeners: prompt_toolkit's telnet server on an owner-only Unix socket, or (when
configured) on loopback TCP, with the peer's uid checked on every Unix connection.

aiomonitor 0.7 serves its telnet UI on TCP only (``TelnetServer._create_socket`` makes an AF_INET
socket); these subclasses replace that socket and re-implement ``_accept`` with the peer check. They
use prompt_toolkit internals (``_create_socket``, ``_accept``, ``_application_tasks``), which is why
``aiomonitor`` (and with it prompt_toolkit 3.0) is pinned and this module is covered by tests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

from prompt_toolkit.contrib.telnet.server import TelnetConnection, TelnetServer
from prompt_toolkit.input import create_pipe_input

from daemon.control.peer import AccessPolicy, PeerCredentials, peer_credentials
from daemon.control.unix_socket import UnixListener, claim_path, listen_unix

__all__ = ["LoopbackTelnetServer", "UnixTelnetServer", "peer_of"]

log = logging.getLogger("daemon.console")

REFUSAL = b"arbord console: permission denied (only the daemon's uid and root may attach)\r\n"


class _ServingTelnetServer(TelnetServer):
    """Runs one application per accepted connection, as prompt_toolkit's own ``_accept`` does, and
    remembers who is on the other end of each (``peer_of``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peers: dict[TelnetConnection, PeerCredentials] = {}

    def _serve_connection(
        self, conn: socket.socket, addr: tuple[str, int], peer: PeerCredentials | None = None
    ) -> None:
        async def run() -> None:
            try:
                with create_pipe_input() as vt100_input:
                    connection = TelnetConnection(
                        conn,
                        addr,
                        self.interact,
                        self,
                        encoding=self.encoding,
                        style=self.style,
                        vt100_input=vt100_input,
                        enable_cpr=self.enable_cpr,
                    )
                    self.connections.add(connection)
                    if peer is not None:
                        self.peers[connection] = peer
                    try:
                        await connection.run_application()
                    finally:
                        self.connections.remove(connection)
                        self.peers.pop(connection, None)
            except (EOFError, KeyboardInterrupt, ConnectionError):
                pass  # the client left
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("console session failed")
            finally:
                conn.close()  # idempotent; the constructor may have failed before owning it
                self._application_tasks.remove(task)

        task = asyncio.get_running_loop().create_task(run())
        self._application_tasks.append(task)


class UnixTelnetServer(_ServingTelnetServer):
    """Telnet on an AF_UNIX socket (mode 0600); peers other than ``policy`` allows are refused."""

    def __init__(self, path: Path, policy: AccessPolicy, **kwargs: Any) -> None:
        super().__init__(host="unix", port=0, **kwargs)
        self.path = path
        self.policy = policy
        self._listener: UnixListener | None = None

    def _create_socket(self, host: str, port: int) -> socket.socket:  # type: ignore[override]
        claim_path(self.path, "console socket")
        self._listener = listen_unix(self.path, mode=0o600)
        return self._listener.sock

    def _accept(self, listen_socket: socket.socket) -> None:
        try:
            conn, _ = listen_socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        conn.setblocking(True)  # prompt_toolkit's connection sends with plain blocking calls
        try:
            peer = peer_credentials(conn)
        except OSError:
            conn.close()
            return
        if not self.policy.allows(peer):
            log.warning("console: refused pid %d uid %d", peer.pid, peer.uid)
            try:
                conn.send(REFUSAL)
            except OSError:
                pass
            conn.close()
            return
        log.info("console: session for pid %d uid %d", peer.pid, peer.uid)
        # prompt_toolkit formats the address as ``%r %r``: give it two fields.
        self._serve_connection(conn, (f"pid {peer.pid}", peer.uid), peer)

    def close_listener(self) -> None:
        """Unlink the socket file (if still ours); the socket itself is closed by ``run``'s end."""
        if self._listener is not None:
            self._listener.close()


class LoopbackTelnetServer(_ServingTelnetServer):
    """Telnet on a loopback TCP address (IPv4 or IPv6): unauthenticated, only when configured."""

    bound: tuple[str, int] | None = None

    def _create_socket(self, host: str, port: int) -> socket.socket:  # type: ignore[override]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=16)
        sock.setblocking(False)
        self.bound = sock.getsockname()[:2]
        return sock

    def _accept(self, listen_socket: socket.socket) -> None:
        try:
            conn, addr = listen_socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        conn.setblocking(True)
        log.warning("console: unauthenticated TCP session from %s", addr)
        self._serve_connection(conn, (str(addr[0]), int(addr[1])))


def peer_of(connection: TelnetConnection) -> PeerCredentials | None:
    """The kernel's credentials of ``connection``'s peer; None on TCP, where nobody can tell."""
    server = connection.server
    return server.peers.get(connection) if isinstance(server, _ServingTelnetServer) else None
