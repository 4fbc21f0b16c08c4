"""A blocking client of the control socket: what ``arborctl`` speaks, with the standard library only.

One process, one request at a time: a blocking socket costs nothing to set up, where an event loop
costs its import on every ``arborctl`` run (docs/performance.md, "arborctl"). ``timeout`` bounds the
whole exchange, not each read; ``extend`` gives the next exchange a fresh budget (``--hold`` pings).

>>> import socket
>>> ours, theirs = socket.socketpair()
>>> client = BlockingClient(ours, timeout=5.0)
>>> _ = theirs.sendall(b'{"id": 1, "result": {"pong": true}}\\n')
>>> client.call("ping")
{'pong': True}
>>> theirs.recv(100)
b'{"id": 1, "method": "ping", "params": {}}\\n'
>>> client.close(); theirs.close()
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from daemon.ctl.frames import CLIENT_FRAME_LIMIT, check_reply, parse_reply, request_frame
from daemon.ctl.trust import check_server, expected_server_uids, trusted_socket_path

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping as Environ
    from typing import Any

__all__ = ["BlockingClient", "connect"]

_CHUNK = 256 * 1024


class BlockingClient:
    """One connection to the control socket; ``close`` it (or use it as a context manager)."""

    def __init__(self, sock: socket.socket, *, timeout: float) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._deadline = time.monotonic() + timeout

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def sock(self) -> socket.socket:
        """The connected socket (``--hold`` waits for it to become readable: the daemon left)."""
        return self._sock

    def extend(self, timeout: float) -> None:
        """Allow ``timeout`` more seconds from now for what follows."""
        self._deadline = time.monotonic() + timeout

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)

    def fill(self) -> None:
        """Read what the daemon sent; ``ConnectionError`` if it closed the connection."""
        self._arm()
        chunk = self._sock.recv(_CHUNK)
        if not chunk:
            raise ConnectionError("the daemon closed the connection")
        self._buffer += chunk
        if len(self._buffer) > CLIENT_FRAME_LIMIT and b"\n" not in self._buffer:
            raise ConnectionError(f"a reply longer than {CLIENT_FRAME_LIMIT} bytes")

    def read_reply(self) -> dict[str, Any]:
        """The next reply frame as a dict."""
        while (end := self._buffer.find(b"\n")) < 0:
            self.fill()
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return parse_reply(line)

    def send(self, method: str, params: Mapping[str, Any] | None = None) -> int:
        """Send one request; returns its id."""
        request_id = next(self._ids)
        self._arm()
        try:
            self._sock.sendall(request_frame(request_id, method, params))
        except ConnectionError:
            # Refused before our request was read (permission_denied, busy): the daemon said why
            # before closing, and that frame is still ours to read.
            check_reply(self.read_reply(), request_id)
            raise
        return request_id

    def replies(self, request_id: int) -> Iterator[dict[str, Any]]:
        """Each reply to ``request_id``, the ``more`` ones then the final one; an error raises
        ``ControlReplyError``."""
        while True:
            reply = check_reply(self.read_reply(), request_id)
            yield reply
            if not reply.get("more"):
                return

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send one request and return its result (the final one, for a streamed method)."""
        result: Any = None
        for reply in self.replies(self.send(method, params)):
            result = reply.get("result")
        return result

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._sock.close()


def connect(path: Path | str, *, timeout: float, environ: Environ[str, str] | None = None) -> BlockingClient:
    """Connect to the control socket at ``path`` once it is shown to be the daemon's
    (daemon/ctl/trust.py: its directory, then the listening process's uid, before anything is sent).

    Raises ``FileNotFoundError``/``ConnectionRefusedError`` (no daemon), ``UntrustedSocket`` (a
    ``PermissionError``: not the daemon's socket), ``PermissionError`` (the socket's mode keeps you
    out) or ``TimeoutError``. ``environ`` (default ``os.environ``) may name the daemon's user.
    """
    environ = os.environ if environ is None else environ
    caller = os.getuid()
    real, owner = trusted_socket_path(path, environ, caller)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(real))
        check_server(sock, expected_server_uids(owner, environ, caller), path)
    except BaseException:
        sock.close()
        raise
    return BlockingClient(sock, timeout=timeout)
