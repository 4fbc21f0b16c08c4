"""The control server: a ``supervisor.Server`` that owns the control socket and its connections.

It is the last child of the root supervisor, so on shutdown it stops first: it stops accepting,
unlinks its socket, lets in-flight requests finish for up to ``drain_timeout`` seconds (idle
connections are closed at once), then the rest of the tree stops. Each connection is served by its own
task; the peer's credentials are checked on accept, before anything is read from it.

No one party can take every slot (issue 12): a uid other than root and the daemon's holds at most
``max_connections_per_uid`` connections and may not take the last ``reserved_connections`` slots,
which stay free for root and the daemon's uid, so an operator can always get in to ``arborctl
shutdown``. Warnings about refused peers are throttled (one per ``_WARNING_INTERVAL`` seconds, with a
count of those held back).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.control.config import ControlSettings, LiveControlSettings
from daemon.control.connection import ControlConnection
from daemon.control.dispatch import rejected
from daemon.control.peer import AccessPolicy, peer_credentials
from daemon.control.protocol import encode_error
from daemon.control.throttle import Throttle
from daemon.control.unix_socket import UnixListener, check_directory, claim_path, listen_unix
from daemon.errors import ConfigError
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import DaemonContext, VerbTable
from supervisor import Caller, Exit, Server, Stop, crash

__all__ = ["ControlServer", "ControlStatistics", "UpdateSettings"]

log = logging.getLogger("daemon.control")

# Errors accept(2) reports for resources the process lacks at the moment: back off, do not crash.
_TRANSIENT_ACCEPT_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_BACKOFF = 0.1
_REFUSAL_GRACE = 1.0  # seconds a refused peer gets to read why
_MAX_REFUSALS = 64  # refusals in progress at once; past it, refused peers are simply closed
_WARNING_INTERVAL = 10.0  # seconds between two warnings about refused or turned-away peers


@dataclass(frozen=True, slots=True)
class ControlStatistics:
    """The control server's counters: open connections, and peers accepted, refused, turned away busy."""

    socket: str
    connections: int
    accepted: int
    refused: int
    busy: int


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    """``call(UpdateSettings(settings))``: take on new limits and timeouts in place (``update_settings``);
    answers None, or why not."""

    settings: ControlSettings


class ControlServer(Server):
    """Serves the verbs of a ``VerbTable`` on a Unix socket. Start it through ``control_child_spec``.

    ``call("statistics")`` returns a ``ControlStatistics``; ``call(UpdateSettings(settings))`` applies
    new limits and timeouts without closing anything (``update_settings``).
    """

    _live: LiveControlSettings

    @property
    def _settings(self) -> ControlSettings:
        return self._live.current

    async def init(
        self,
        settings: ControlSettings | LiveControlSettings,
        socket_path: Path,
        context: DaemonContext,
        verbs: VerbTable,
    ) -> None:
        self._live = settings if isinstance(settings, LiveControlSettings) else LiveControlSettings(settings)
        settings = self._live.current
        self._context = context
        self._verbs = verbs
        try:
            self._policy = AccessPolicy.for_group(settings.group)
        except LookupError as error:
            raise ConfigError([f"control.group: {error}"]) from None
        grouped = self._policy.group_gid is not None
        check_directory(socket_path.parent, mode=0o710 if grouped else 0o700, gid=self._policy.group_gid)
        claim_path(socket_path)
        self._listener: UnixListener = listen_unix(
            socket_path, mode=0o660 if grouped else 0o600, gid=self._policy.group_gid
        )
        self._connections: dict[int, ControlConnection] = {}
        self._per_uid: dict[int, int] = {}
        self._refused_warnings = Throttle(_WARNING_INTERVAL)
        self._busy_warnings = Throttle(_WARNING_INTERVAL)
        self._counts = {"accepted": 0, "refused": 0, "busy": 0}
        self._refusals: set[asyncio.Task[None]] = set()
        self._next_id = 0
        self._accept_task = asyncio.get_running_loop().create_task(
            self._accept_loop(), name="arbord.control.accept"
        )
        self._accept_task.add_done_callback(self._accept_loop_ended)
        log.info("control socket listening on %s", socket_path)

    # --- accepting -------------------------------------------------------------------------------

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        listening = self._listener.sock
        while True:
            try:
                conn, _ = await loop.sock_accept(listening)
            except OSError as error:
                if error.errno not in _TRANSIENT_ACCEPT_ERRORS:
                    raise
                log.warning("control socket: accept failed (%s); retrying", error)
                await asyncio.sleep(_ACCEPT_BACKOFF)
                continue
            self._admit(conn)

    def _accept_loop_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.send(("accept_loop_failed", task.exception()))

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, tuple) and message[:1] == ("accept_loop_failed",):
            raise Stop(crash(message[1]))

    def update_settings(self, settings: ControlSettings) -> None:
        """Take on ``settings`` in place: the listener and every open connection stay (the connections
        that own registry entries above all). ``max_connections`` applies to the next accept; a new
        connection is served with the new timeouts and frame limit, an open one keeps those it was
        accepted with. Refuses (``ValueError``) a change of ``socket`` or ``group``: that needs a new
        listener, and a reload restarts the server for it."""
        if LiveControlSettings.listener_changed(self._live.current, settings):
            raise ValueError("a new socket or group needs a new listener: restart the control server")
        self._live.current = settings
        log.info("control socket: settings updated in place")

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if isinstance(request, UpdateSettings):
            try:
                self.update_settings(request.settings)
            except ValueError as error:  # the caller's mistake, not a reason to crash
                return str(error)
            return None
        if request == "statistics":
            return ControlStatistics(
                socket=os.fspath(self._listener.path),
                connections=len(self._connections),
                accepted=self._counts["accepted"],
                refused=self._counts["refused"],
                busy=self._counts["busy"],
            )
        raise ValueError(f"unknown request {request!r}")

    def _refuse(self, conn: socket.socket, code: ErrorCode, message: str) -> None:
        """Answer a peer we will not serve with one error frame, then close (bounded in time and number)."""
        rejected(code)
        frame = encode_error(None, code, message)
        if len(self._refusals) >= _MAX_REFUSALS:  # a flood: no courtesy, just close
            conn.close()
            return
        task = asyncio.get_running_loop().create_task(_say_no(conn, frame))
        self._refusals.add(task)
        task.add_done_callback(self._refusals.discard)

    def _admit(self, conn: socket.socket) -> None:
        try:
            peer = peer_credentials(conn)
        except OSError:
            conn.close()
            return
        now = asyncio.get_running_loop().time()
        if not self._policy.allows(peer):
            self._counts["refused"] += 1
            logged, held = self._refused_warnings.admit(now)
            if logged:
                log.warning(
                    "control socket: refused pid %d uid %d gid %d%s",
                    peer.pid,
                    peer.uid,
                    peer.gid,
                    f" (and {held} more refused since the last warning)" if held else "",
                )
            self._refuse(conn, ErrorCode.PERMISSION_DENIED, f"uid {peer.uid} may not use this control socket")
            return
        full = self._full_for(peer.uid)
        if full:
            self._counts["busy"] += 1
            logged, held = self._busy_warnings.admit(now)
            if logged:
                log.warning(
                    "control socket: turned away pid %d uid %d: %s%s",
                    peer.pid,
                    peer.uid,
                    full,
                    f" (and {held} more since the last warning)" if held else "",
                )
            self._refuse(conn, ErrorCode.BUSY, f"{full}; retry later")
            return
        self._counts["accepted"] += 1
        self._next_id += 1
        self._per_uid[peer.uid] = self._per_uid.get(peer.uid, 0) + 1
        connection = ControlConnection(self._next_id, conn, peer, self._verbs)
        task = asyncio.get_running_loop().create_task(
            self._serve_connection(connection), name=f"arbord.control.connection-{self._next_id}"
        )
        connection.task = task
        self._connections[connection.id] = connection

    def _full_for(self, uid: int) -> str:
        """Why a peer of ``uid`` gets no slot now, or '' if it gets one."""
        settings = self._settings
        open_now = len(self._connections)
        if open_now >= settings.max_connections:
            return f"{settings.max_connections} connections open"
        if uid in (0, self._policy.owner_uid):
            return ""  # root and the daemon's uid: every slot, the reserved ones included
        if open_now >= settings.max_connections - settings.reserved:
            return f"the last {settings.reserved} of {settings.max_connections} connections are kept for root"
        if self._per_uid.get(uid, 0) >= settings.max_connections_per_uid:
            return f"uid {uid} holds {settings.max_connections_per_uid} connections already"
        return ""

    async def _serve_connection(self, connection: ControlConnection) -> None:
        try:
            await connection.serve(self._settings, self._context)
        except Exception:
            log.exception("%r failed", connection)
        finally:
            if self._connections.pop(connection.id, None) is not None:
                uid = connection.peer_uid
                assert uid is not None, "a served connection has the peer's credentials"
                left = self._per_uid.get(uid, 1) - 1
                if left:
                    self._per_uid[uid] = left
                else:
                    self._per_uid.pop(uid, None)

    # --- stopping --------------------------------------------------------------------------------

    async def terminate(self, reason: Exit) -> None:
        self._accept_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._accept_task
        self._listener.close()
        for refusal in list(self._refusals):
            refusal.cancel()
        connections = list(self._connections.values())
        for connection in connections:
            connection.closing = True
            if not connection.busy:
                connection.task.cancel()
        tasks = [c.task for c in connections]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=self._settings.drain_timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning(
                "control socket: %d request(s) cut after the %g s drain",
                len(late),
                self._settings.drain_timeout,
            )
            await asyncio.wait(late, timeout=1.0)

    def _linked_exit(self, reason: Exit) -> None:
        # Killed: no terminate. Close the socket and cut the connections so nothing outlives us.
        self._accept_task.cancel()
        self._listener.close()
        for task in [*self._refusals, *(c.task for c in self._connections.values())]:
            task.cancel()


async def _say_no(conn: socket.socket, frame: bytes) -> None:
    """Send ``frame``, end our side, and let the peer read it before closing.

    Closing at once would make the kernel reset the connection if the peer's request is already
    queued, and a client that fails to write first may then never read why it was refused.
    """
    loop = asyncio.get_running_loop()
    try:
        conn.setblocking(False)
        async with asyncio.timeout(_REFUSAL_GRACE):
            await loop.sock_sendall(conn, frame)
            conn.shutdown(socket.SHUT_WR)
            while await loop.sock_recv(conn, 4096):
                pass  # discard what it sends until it closes
    except (OSError, TimeoutError):
        pass
    finally:
        conn.close()
