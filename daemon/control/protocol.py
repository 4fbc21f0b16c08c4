"""The control protocol's framing: one JSON object per line, in each direction.

A request is ``{"id": ID, "method": NAME, "params": {...}}`` (``params`` optional, ``id`` a string or an
integer); a reply is ``{"id": ID, "result": VALUE}``, ``{"id": ID, "result": VALUE, "more": true}`` for
each item of a stream, or ``{"id": ID, "error": {"code": CODE, "message": TEXT, ...}}``. A frame whose
id cannot be read is answered with ``"id": null``.

>>> parse_request(b'{"id": 1, "method": "ping"}\\n')
Request(id=1, method='ping', params={})
>>> encode_result(1, {"pong": True})
b'{"id":1,"result":{"pong":true}}\\n'
>>> parse_request(b'{"id": 2}')
Traceback (most recent call last):
...
daemon.control.protocol.ProtocolError: request has no "method" string
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from daemon.verbs.codes import ErrorCode

__all__ = [
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


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request frame; ``params`` is not validated yet (the method's model does that)."""

    id: RequestId
    method: str
    params: dict[str, Any]


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
    method = message.get("method")
    if not isinstance(method, str):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request has no "method" string', request_id)
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, 'request "params" must be an object', request_id)
    unknown = sorted(set(message) - {"id", "method", "params"})
    if unknown:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, f"unknown request fields: {unknown}", request_id)
    return Request(request_id, method, params)


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
    error: dict[str, Any] = dict(data) if data else {}
    error["code"] = code.value
    error["message"] = message
    try:
        return _dump({"id": request_id, "error": error})
    except (TypeError, ValueError):
        return _dump({"id": request_id, "error": {"code": code.value, "message": message}})
