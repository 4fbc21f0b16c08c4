"""The control protocol's framing: one JSON object per line, in each direction.

A request is ``{"id": ID, "method": NAME, "params": {...}}`` (``params`` optional, ``id`` a string of at
most 256 characters or an integer); a reply is ``{"id": ID, "result": VALUE}``,
``{"id": ID, "result": VALUE, "more": true}`` for each item of a stream, or
``{"id": ID, "error": {"code": CODE, "message": TEXT, ...}}``. A frame whose id cannot be read is
answered with ``"id": null``.

>>> parse_request(b'{"id": 1, "method": "ping"}\\n')
Request(id=1, method='ping', params={})
>>> encode_result(1, {"pong": True})
b'{"id":1,"result":{"pong":true}}\\n'
>>> parse_request(b'{"id": 2}')
Traceback (most recent call last):
...
daemon.control.protocol.ProtocolError: request has no "method" string

An error reply never echoes unbounded input (issue 12: a 500 KB method name came back whole): its
message and every string in its data are cut to ``MAX_ERROR_TEXT`` characters, its lists to
``MAX_ERROR_ITEMS`` items:

>>> len(encode_error(1, ErrorCode.METHOD_NOT_FOUND, "no method " + "x" * 500_000)) < 2 * MAX_ERROR_TEXT
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from daemon.verbs.codes import ErrorCode

__all__ = [
    "MAX_ERROR_ITEMS",
    "MAX_ERROR_TEXT",
    "MAX_ID_LENGTH",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "Request",
    "RequestId",
    "encode_error",
    "encode_result",
    "parse_request",
]

PROTOCOL_VERSION: Final = 1
"""Bumped on an incompatible change of framing or message shapes (``hello`` reports it)."""

RequestId: TypeAlias = str | int | None

MAX_ID_LENGTH: Final = 256
"""The longest string id a request may have (every reply echoes it)."""
MAX_ERROR_TEXT: Final = 512
"""The longest string an error reply carries (its message, and each string in its data)."""
MAX_ERROR_ITEMS: Final = 50
"""The most items of one list (or keys of one object) in an error reply's data."""


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request frame; ``params`` is not validated yet (the method's model does that)."""

    id: RequestId
    method: str
    params: dict[str, Any]
    traceparent: str | None = field(default=None, repr=False)
    """The W3C ``traceparent`` header of the caller's span, if it sent one: the request's server
    span continues that trace (docs/spans.md). Checked when the request runs, not here."""


class ProtocolError(Exception):
    """A frame that is not a valid request; ``id`` is the request's id when it could be read."""

    def __init__(self, code: ErrorCode, message: str, request_id: RequestId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def parse_request(frame: bytes) -> Request:
    """Parse one frame (its newline optional); raises ``ProtocolError`` for anything but a request."""
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        # RecursionError: a hostile frame of deeply nested arrays must not escape as a crash.
        raise ProtocolError(ErrorCode.PARSE_ERROR, f"frame is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "a request is a JSON object")
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request "id" must be a string or an integer')
    if isinstance(request_id, str) and len(request_id) > MAX_ID_LENGTH:
        # Every reply echoes the id: a long one would make each reply as long (issue 12).
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST, f'request "id" is longer than {MAX_ID_LENGTH} characters'
        )
    method = message.get("method")
    if not isinstance(method, str):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request has no "method" string', request_id)
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request "params" must be an object', request_id)
    unknown = sorted(set(message) - {"id", "method", "params", "traceparent"})
    if unknown:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, f"unknown request fields: {unknown}", request_id)
    traceparent = message.get("traceparent")
    if traceparent is not None and not isinstance(traceparent, str):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request "traceparent" must be a string', request_id)
    return Request(request_id, method, params, traceparent)


def _dump(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def encode_result(request_id: RequestId, result: Any, *, more: bool = False) -> bytes:
    """A result frame; raises ``TypeError``/``ValueError`` if ``result`` is not JSON-serialisable."""
    if more:
        return _dump({"id": request_id, "result": result, "more": True})
    return _dump({"id": request_id, "result": result})


def encode_error(
    request_id: RequestId, code: ErrorCode, message: str, data: Mapping[str, Any] | None = None
) -> bytes:
    """An error frame; ``data`` adds fields next to ``code`` and ``message`` (never replacing them)."""
    error: dict[str, Any] = _bounded(dict(data)) if data else {}
    error["code"] = code.value
    error["message"] = _cut(message)
    try:
        return _dump({"id": request_id, "error": error})
    except (TypeError, ValueError):
        return _dump({"id": request_id, "error": {"code": code.value, "message": error["message"]}})


def _cut(text: str) -> str:
    if len(text) <= MAX_ERROR_TEXT:
        return text
    return f"{text[:MAX_ERROR_TEXT]}... ({len(text) - MAX_ERROR_TEXT} more characters)"


def _bounded(value: Any, depth: int = 0) -> Any:
    """``value`` with long strings cut, long lists and objects shortened, deep nesting elided."""
    if isinstance(value, str):
        return _cut(value)
    if depth > 8:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_ERROR_ITEMS]
        return {_cut(str(k)): _bounded(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_bounded(v, depth + 1) for v in value[:MAX_ERROR_ITEMS]]
    return value
