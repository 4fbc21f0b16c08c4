"""An asyncio client of the control socket, for programs on an event loop, the tests and the benchmarks
(``arborctl`` uses the blocking one, daemon/ctl/wire.py: it starts faster without asyncio).

>>> async def example(path):                                    # doctest: +SKIP
...     async with open_control_client(path) as client:
...         await client.call("ping")                           # {'pong': True}
...         async for chunk in client.stream("tables.dump", {"name": "agents"}):
...             print(chunk["rows"])

A reply with ``error`` raises ``ControlReplyError`` (its ``code`` is an ``ErrorCode`` value); a
connection the daemon closed raises ``ConnectionError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from daemon.ctl.frames import CLIENT_FRAME_LIMIT, ControlReplyError, check_reply, parse_reply, request_frame
from daemon.ctl.trust import check_server, expected_server_uids, trusted_socket_path

__all__ = ["ControlClient", "ControlReplyError", "open_control_client"]


class ControlClient:
    """One connection; requests are sent one at a time (a ``stream`` must be consumed before the next)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self.last_stream_result: Any = None
        """The final result of the last ``stream`` (the daemon's ``{"items": n}``)."""

    async def send_raw(self, frame: bytes) -> None:
        """Write bytes as they are (tests use it to send malformed frames)."""
        self._writer.write(frame)
        await self._writer.drain()

    async def read_reply(self) -> dict[str, Any]:
        """The next reply frame as a dict; ``ConnectionError`` if the daemon closed the connection."""
        line = await self._reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError("the daemon closed the connection")
        return parse_reply(line)

    async def _request(self, method: str, params: Mapping[str, Any] | None) -> int:
        request_id = next(self._ids)
        try:
            await self.send_raw(request_frame(request_id, method, params))
        except ConnectionError:
            # Refused before our request was read (permission_denied, busy): the daemon said why
            # before closing, and that frame is still ours to read.
            await self._reply_to(request_id)
            raise
        return request_id

    async def _reply_to(self, request_id: int) -> dict[str, Any]:
        return check_reply(await self.read_reply(), request_id)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send one request and return its result (the final one, for a streamed method)."""
        request_id = await self._request(method, params)
        while True:
            reply = await self._reply_to(request_id)
            if not reply.get("more"):
                return reply.get("result")

    async def stream(self, method: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[Any]:
        """Send one request and yield each ``more`` result; the final one goes to ``last_stream_result``."""
        request_id = await self._request(method, params)
        while True:
            reply = await self._reply_to(request_id)
            if not reply.get("more"):
                self.last_stream_result = reply.get("result")
                return
            yield reply.get("result")

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


@contextlib.asynccontextmanager
async def open_control_client(path: Path | str) -> AsyncIterator[ControlClient]:
    """Connect to the control socket at ``path`` once it is shown to be the daemon's (as ``arborctl``
    does, daemon/ctl/trust.py); raises ``FileNotFoundError``/``ConnectionRefusedError`` (no daemon),
    ``UntrustedSocket`` (not the daemon's: nothing was sent) or ``PermissionError`` (the socket's mode
    keeps you out)."""
    caller = os.getuid()
    real, owner = trusted_socket_path(path, os.environ, caller)
    reader, writer = await asyncio.open_unix_connection(str(real), limit=CLIENT_FRAME_LIMIT)
    client = ControlClient(reader, writer)
    try:
        check_server(writer.get_extra_info("socket"), expected_server_uids(owner, os.environ, caller), path)
    except BaseException:
        await client.close()
        raise
    try:
        yield client
    finally:
        await client.close()
