"""OFREP's two evaluation endpoints over arbord's flags: requests in, ``HttpResponse`` out.

The OpenFeature Remote Evaluation Protocol (github.com/open-feature/protocol, ``service/openapi.yaml``)
is JSON over HTTP; a stock OFREP provider in any language POSTs ``{"context": {"targetingKey": ...,
...}}`` and reads back:

- ``POST /ofrep/v1/evaluate/flags/{key}``: ``200 {"key", "value", "reason", "variant", "metadata"}``;
  ``404 {"key", "errorCode": "FLAG_NOT_FOUND", "errorDetails"}`` for a flag that is neither declared
  nor created; ``400 {"key", "errorCode": "PARSE_ERROR" | "INVALID_CONTEXT", "errorDetails"}``;
- ``POST /ofrep/v1/evaluate/flags``: ``200 {"flags": [...]}`` (every known flag, each as above) with an
  ``ETag``; a request whose ``If-None-Match`` names it gets ``304`` and no body; a bad request ``400
  {"errorCode", "errorDetails"}``;
- ``500 {"errorDetails"}`` while the flags server is not running (or an evaluation failed).

arbord's flags are booleans: ``value`` is a JSON boolean, ``variant`` ``on`` or ``off``, ``reason`` the
table of ``daemon.flags.reasons`` (the in-process OpenFeature provider's), ``metadata`` the gate that
decided, the revision in force and, for a percentage of actors, the bucket. The context's
``targetingKey`` is the actor; the group membership functions receive an ``OfrepContext``, whose
``targeting_key`` and ``attributes`` are named as OpenFeature's ``EvaluationContext`` ones (so a
function written for the provider serves both).

Evaluation runs in the listener's connection task on the flags server's table (no mailbox hop). A body
is at most ``MAX_BODY_BYTES``; malformed JSON (or nesting too deep to parse) is a ``400``, never a
crash.

>>> import asyncio, json
>>> from daemon.flags.server import Flags
>>> from daemon.telemetry.http_listener import HttpRequest
>>> async def demo() -> tuple[int, dict[str, object]]:
...     flags = await Flags.start()
...     await flags.enable("beta", create=True)
...     body = json.dumps({"context": {"targetingKey": "alice"}}).encode()
...     request = HttpRequest("POST", "/ofrep/v1/evaluate/flags/beta", {}, {}, body)
...     response = await evaluate_one(request, lambda: flags)
...     await flags.stop()
...     return int(response.status), json.loads(response.body)
>>> status, answer = asyncio.run(demo())
>>> status, answer["value"], answer["variant"], answer["reason"], answer["metadata"]
(200, True, 'on', 'STATIC', {'gate': 'boolean', 'revision': 1})
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from daemon.flags.binding import flags_server
from daemon.flags.reasons import reason_name
from daemon.flags.server import Flags
from daemon.telemetry.http_listener import HttpRequest, HttpResponse
from supervisor.errors import NoProc

__all__ = [
    "BULK_PATH",
    "CONTENT_TYPE",
    "MAX_BODY_BYTES",
    "SINGLE_PREFIX",
    "BadRequest",
    "OfrepContext",
    "evaluate_bulk",
    "evaluate_one",
    "parse_context",
]

log = logging.getLogger("arbord.flags.ofrep")

BULK_PATH: Final = "/ofrep/v1/evaluate/flags"
SINGLE_PREFIX: Final = BULK_PATH + "/"
CONTENT_TYPE: Final = "application/json"
MAX_BODY_BYTES: Final = 64 * 1024
"""An evaluation request's body is a context: 64 KiB is plenty, and bounds what one request costs."""

FindFlags = Callable[[], Flags]
"""Returns the running flags server, or raises ``NoProc`` (default: ``flags_server``)."""


@dataclass(frozen=True, slots=True)
class OfrepContext:
    """The request's evaluation context, as the group membership functions see it."""

    targeting_key: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)


class BadRequest(Exception):
    """A request OFREP answers ``400``: ``code`` is ``PARSE_ERROR`` or ``INVALID_CONTEXT``."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def parse_context(body: bytes) -> OfrepContext:
    """The context of a request body (an empty body, or one without ``context``: no context);
    ``BadRequest`` for a body that is not a JSON object (``PARSE_ERROR``) or a context that is not
    an object, or whose ``targetingKey`` is not a string (``INVALID_CONTEXT``).

    >>> parse_context(b'{"context": {"targetingKey": "alice", "plan": "pro"}}')
    OfrepContext(targeting_key='alice', attributes={'plan': 'pro'})
    >>> parse_context(b'{"context": ')
    Traceback (most recent call last):
    ...
    daemon.flags.ofrep.protocol.BadRequest: the body is not JSON: Expecting value at char 12
    """
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("PARSE_ERROR", f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return OfrepContext(None)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise BadRequest("PARSE_ERROR", f"the body is not JSON: {error.msg} at char {error.pos}") from None
    except UnicodeDecodeError:
        raise BadRequest("PARSE_ERROR", "the body is not UTF-8") from None
    except RecursionError:
        raise BadRequest("PARSE_ERROR", "the body nests too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("PARSE_ERROR", f"the body is a JSON {type(data).__name__}, not an object")
    context = data.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise BadRequest("INVALID_CONTEXT", "the context is not a JSON object")
    attributes = dict(context)
    key = attributes.pop("targetingKey", None)
    if key is not None and not isinstance(key, str):
        raise BadRequest("INVALID_CONTEXT", "the context's targetingKey is not a string")
    return OfrepContext(key, attributes)


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return HttpResponse(status, body, CONTENT_TYPE, headers or {})


def _failure(status: int, key: str, code: str, details: str) -> HttpResponse:
    return _json(status, {"key": key, "errorCode": code, "errorDetails": details})


def _unavailable(error: Exception) -> HttpResponse:
    return _json(HTTPStatus.INTERNAL_SERVER_ERROR, {"errorDetails": str(error)})


def _success(server: Flags, key: str, context: OfrepContext) -> dict[str, Any]:
    decision = server.decision(key, context.targeting_key, context)
    metadata: dict[str, bool | int | float | str] = {"gate": decision.gate, "revision": server.revision}
    if decision.bucket is not None:
        metadata["bucket"] = decision.bucket
    return {
        "key": key,
        "value": decision.value,
        "reason": reason_name(decision, stale=server.stale),
        "variant": "on" if decision.value else "off",
        "metadata": metadata,
    }


async def evaluate_one(request: HttpRequest, find: FindFlags = flags_server) -> HttpResponse:
    """``POST /ofrep/v1/evaluate/flags/{key}``: one flag for the request's context."""
    key = request.path.removeprefix(SINGLE_PREFIX)
    try:
        context = parse_context(request.body)
    except BadRequest as error:
        return _failure(HTTPStatus.BAD_REQUEST, key, error.code, error.details)
    try:
        server = find()
    except NoProc as error:
        return _unavailable(error)
    # A name nobody declared or created is a 404, not counted among lint's undeclared evaluations:
    # names that come from the network would grow that table without bound.
    if server.state(key) is None:
        return _failure(HTTPStatus.NOT_FOUND, key, "FLAG_NOT_FOUND", f"no flag named {key!r}")
    return _json(HTTPStatus.OK, _success(server, key, context))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def evaluate_bulk(request: HttpRequest, find: FindFlags = flags_server) -> HttpResponse:
    """``POST /ofrep/v1/evaluate/flags``: every known flag for the request's context, with an
    ``ETag`` (a digest of the body); ``304`` when ``If-None-Match`` names the current one."""
    try:
        context = parse_context(request.body)
    except BadRequest as error:
        return _json(HTTPStatus.BAD_REQUEST, {"errorCode": error.code, "errorDetails": error.details})
    try:
        server = find()
    except NoProc as error:
        return _unavailable(error)
    flags = [_success(server, key, context) for key in server.known()]
    body = json.dumps({"flags": flags}, separators=(",", ":")).encode()
    etag = _etag(body)
    if _matches(request.headers.get("if-none-match"), etag):
        return HttpResponse(HTTPStatus.NOT_MODIFIED, b"", CONTENT_TYPE, {"ETag": etag})
    return HttpResponse(HTTPStatus.OK, body, CONTENT_TYPE, {"ETag": etag})
