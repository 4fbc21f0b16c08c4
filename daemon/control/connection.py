"""One client of the control socket, served by its own task: read a frame, answer it, repeat.

Requests on one connection are answered in order (a stream's frames are never interleaved with another
reply); a client wanting concurrency opens more connections. The connection closes on EOF, after
``idle_timeout`` seconds without a frame, ``frame_timeout`` seconds into a frame that is not finished
(a slow sender holds a slot no longer than that), after a frame over ``max_frame_bytes`` (answered
``frame_too_large`` first), or when the daemon stops. A reply the peer does not read within
``idle_timeout`` closes the connection too, and so do unsent replies past ``max_unsent_bytes``: a
stuck client costs one task and a bounded buffer, never the daemon's memory.

Fair to the others: after each request the connection yields to the event loop before it reads the
next, so a client that pipelines thousands of requests (all already in our buffer, answered without
a single await that blocks) takes turns with everyone else instead of holding the loop until its
buffer is empty (bench/bench_control.py, "fairness").
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from typing import Any

from daemon.control.config import ControlSettings
from daemon.control.deadline import Deadline
from daemon.control.dispatch import PeerGone, Send, dispatch, rejected
from daemon.control.peer import PeerCredentials
from daemon.control.protocol import ProtocolError, encode_error, parse_request
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import DaemonContext, Method, MethodContext, VerbTable

__all__ = ["ControlConnection"]

log = logging.getLogger("daemon.control")


class ControlConnection:
    """A connected, authorised peer (``daemon.control.Connection``); ``serve`` is its task's body."""

    def __init__(
        self, connection_id: int, sock: socket.socket, peer: PeerCredentials, verbs: VerbTable
    ) -> None:
        self._id = connection_id
        self._verbs = verbs
        self._sock = sock
        self._peer = peer
        self._task: asyncio.Task[Any] | None = None
        self.busy = False
        """True from the moment a frame is read until its last reply frame is written."""
        self.closing = False
        """Set when the daemon stops: the connection ends after the request it is answering."""
        self.requests = 0

    @property
    def id(self) -> int:
        return self._id

    @property
    def task(self) -> asyncio.Task[Any]:
        assert self._task is not None, "the connection's task is set as soon as it is created"
        return self._task

    @task.setter
    def task(self, task: asyncio.Task[Any]) -> None:
        self._task = task

    @property
    def peer_uid(self) -> int | None:
        return self._peer.uid

    @property
    def peer_pid(self) -> int | None:
        return self._peer.pid

    @property
    def methods(self) -> Mapping[str, Method]:
        """The method table this connection is served with (``hello`` lists it)."""
        return self._verbs.methods

    def __repr__(self) -> str:
        return f"<ControlConnection #{self._id} pid={self._peer.pid} uid={self._peer.uid}>"

    async def serve(self, settings: ControlSettings, daemon: DaemonContext) -> None:
        """Answer requests until the peer leaves, goes quiet, misbehaves, or the daemon stops."""
        reader, writer = await asyncio.open_unix_connection(sock=self._sock, limit=settings.max_frame_bytes)
        idle = settings.idle_timeout
        frame_time = min(settings.frame_timeout, idle)
        max_unsent = settings.max_unsent_bytes
        transport = writer.transport
        deadline = Deadline(self.task)

        async def send(frame: bytes) -> None:
            if transport.is_closing():  # the peer left: a write would be dropped (with a warning)
                raise PeerGone("the peer closed the connection")
            writer.write(frame)
            unsent = transport.get_write_buffer_size()
            if unsent > max_unsent:  # replies come in bounded frames: this peer is not reading
                raise PeerGone(f"{unsent} reply bytes unsent (max_unsent_bytes {max_unsent})")
            if unsent:  # not all sent at once: wait, but not forever
                try:
                    with deadline.phase(idle):
                        await writer.drain()
                except (ConnectionError, TimeoutError) as error:
                    raise PeerGone(str(error) or "the peer stopped reading") from None

        context = MethodContext(connection=self, daemon=daemon)
        try:
            while not self.closing:
                try:
                    with deadline.phase(idle):
                        first = await reader.read(1)  # a frame begins: from here, frame_timeout
                    if not first:
                        return  # EOF between frames
                    if first == b"\n":
                        continue  # an empty line: not a frame
                    with deadline.phase(frame_time):
                        line = first + await reader.readline()
                except TimeoutError:
                    log.debug(
                        "%r: idle for %g s or a frame unfinished for %g s, closing", self, idle, frame_time
                    )
                    return
                except ValueError:  # the frame outgrew the reader's limit before its newline
                    message = f"frame longer than {settings.max_frame_bytes} bytes; closing the connection"
                    rejected(ErrorCode.FRAME_TOO_LARGE)
                    await send(encode_error(None, ErrorCode.FRAME_TOO_LARGE, message))
                    return
                if not line.endswith(b"\n"):
                    return  # EOF, possibly in the middle of a frame the peer gave up on
                if not line.strip():
                    continue
                self.busy = True
                self.requests += 1
                try:
                    request = parse_request(line)
                except ProtocolError as error:
                    rejected(error.code)
                    await send(encode_error(error.request_id, error.code, error.message))
                else:
                    await dispatch(self._verbs, request, context, send, deadline, settings.request_timeout)
                finally:
                    self.busy = False
                # Take turns: the next frame may already be buffered, and answering it would not
                # yield (test_a_pipelining_client_does_not_starve_another_ones_ping).
                await asyncio.sleep(0)
            await _refuse_buffered(reader, deadline, send)
        except (ConnectionError, PeerGone):
            log.debug("%r: peer went away or stopped reading", self)
            writer.transport.abort()  # a graceful close would wait for a peer that does not read
        finally:
            deadline.close()
            await _close(writer, idle)


async def _refuse_buffered(reader: asyncio.StreamReader, deadline: Deadline, send: Send) -> None:
    """The daemon is stopping: answer ``shutting_down`` to the requests already received (pipelined
    behind the one that was drained), without waiting for more."""
    while True:
        try:
            with deadline.phase(0.0):  # a complete line already buffered is returned without waiting
                line = await reader.readline()
        except (TimeoutError, ValueError):
            return
        if not line.endswith(b"\n"):
            return
        if line.strip():
            try:
                request_id = parse_request(line).id
            except ProtocolError as error:
                request_id = error.request_id
            await send(encode_error(request_id, ErrorCode.SHUTTING_DOWN, "the daemon is stopping"))


async def _close(writer: asyncio.StreamWriter, grace: float) -> None:
    """Close gracefully (flushing what is buffered) within ``grace`` seconds, else abort."""
    writer.close()
    try:
        async with asyncio.timeout(grace):
            await writer.wait_closed()
    except (ConnectionError, OSError):
        pass
    except TimeoutError:
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
