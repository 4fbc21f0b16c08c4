"""The client's side of the control protocol's frames, shared by the blocking and the asyncio client.

>>> request_frame(1, "ping", None)
b'{"id": 1, "method": "ping", "params": {}}\\n'
>>> check_reply({"id": 1, "error": {"code": "not_found", "message": "no such key", "key": "k"}}, 1)
Traceback (most recent call last):
...
daemon.ctl.frames.ControlReplyError: not_found: no such key
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "CLIENT_FRAME_LIMIT",
    "ControlReplyError",
    "UnexpectedReply",
    "check_reply",
    "parse_reply",
    "request_frame",
]

CLIENT_FRAME_LIMIT: Final = 64 * 1024 * 1024
"""Replies (a large tree, a dump chunk) may be longer than requests; still bounded."""


class ControlReplyError(Exception):
    """The daemon answered with an error: ``code`` (an ``ErrorCode`` value), ``message``, ``data``,
    and ``correlation_id``, the id the daemon's log line of that error carries (None from a daemon
    that sends none; kept out of ``data``)."""

    def __init__(self, code: str, message: str, data: Mapping[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = dict(data)
        correlation_id = self.data.pop("correlation_id", None)
        self.correlation_id: str | None = correlation_id if isinstance(correlation_id, str) else None


class UnexpectedReply(ConnectionError):
    """What came back is not a reply of the control protocol (not JSON, not an object): whatever
    answers on the socket is not an arbord daemon, or not one this client understands."""


def request_frame(request_id: int, method: str, params: Mapping[str, Any] | None) -> bytes:
    """One request line."""
    return json.dumps({"id": request_id, "method": method, "params": dict(params or {})}).encode() + b"\n"


def parse_reply(line: bytes) -> dict[str, Any]:
    """A reply line as a dict; ``UnexpectedReply`` (a ``ConnectionError``) if the line is not one."""
    try:
        reply = json.loads(line)
    except (ValueError, RecursionError):
        reply = None
    if not isinstance(reply, dict):
        raise UnexpectedReply(f"not a reply frame: {line[:200]!r}")
    return reply


def check_reply(reply: dict[str, Any], request_id: int) -> dict[str, Any]:
    """``reply`` if it answers ``request_id``; ``ControlReplyError`` if it is an error (which may come
    with a null id: a refused connection), ``ConnectionError`` if it answers another request."""
    error = reply.get("error")
    if isinstance(error, dict):
        data = {k: v for k, v in error.items() if k not in ("code", "message")}
        raise ControlReplyError(str(error.get("code")), str(error.get("message")), data)
    if reply.get("id") != request_id:
        raise ConnectionError(f"reply for id {reply.get('id')!r} while waiting for {request_id}")
    return reply
