"""Running one request: find the method, validate its params, run its handler, turn the outcome into
frames. Whatever the handler does, the request gets exactly one final frame (after any ``more`` ones).

Exceptions become error codes through the table's error map (``daemon.verbs.error_codes``: a
``ControlError`` or a component's error carries its own code, the components map the rest); anything
unmapped is a bug, logged with its traceback and answered ``internal`` (the message does not leak the
traceback). The transport knows no component: what it serves is the ``VerbTable`` it is given.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from pydantic import ValidationError

from daemon.control.deadline import Deadline
from daemon.control.protocol import Request, encode_error, encode_result
from daemon.spans import BadTraceparent, from_traceparent, span, with_propagated_context
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, VerbTable

__all__ = ["AUDITED", "PeerGone", "Send", "dispatch"]

log = logging.getLogger("daemon.control")

Send = Callable[[bytes], Awaitable[None]]
"""Writes one frame to the peer (and waits until the transport accepted it); raises ``PeerGone``."""


class PeerGone(Exception):
    """Raised by a ``Send`` when the peer left or stopped reading: nothing more can be answered, and
    it is not the handler's failure (so it is neither logged as a bug nor answered)."""


AUDITED: Final = frozenset(
    {"start_child", "terminate_child", "restart_child", "delete_child", "reload", "shutdown"}
)
"""Core methods that change the daemon: logged at INFO with the peer's pid and uid."""


async def dispatch(
    verbs: VerbTable,
    request: Request,
    context: MethodContext,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> None:
    """Answer ``request`` through ``send``: its result (or stream) or its error, always ending it.

    The request runs inside a server span, ``control <method>``, which continues the caller's trace
    when the request carries a ``traceparent`` (a malformed one is answered ``invalid_request``)."""
    try:
        remote = None if request.traceparent is None else from_traceparent(request.traceparent)
    except BadTraceparent as error:
        await send(encode_error(request.id, ErrorCode.INVALID_REQUEST, str(error)))
        return
    attributes = {"rpc.system": "arbord", "rpc.method": request.method[:200]}
    with with_propagated_context(remote), span(f"control {request.method[:100]}", attributes):
        await _answer(verbs, request, context, send, deadline, timeout)


async def _answer(
    verbs: VerbTable,
    request: Request,
    context: MethodContext,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> None:
    method = verbs.methods.get(request.method)
    if method is None:
        await send(encode_error(request.id, ErrorCode.METHOD_NOT_FOUND, f"no method {request.method!r}"))
        return
    if method.name in AUDITED:
        connection = context.connection
        log.info(
            "control: %s %.200r by pid %s uid %s",
            method.name,
            request.params,
            connection.peer_pid,
            connection.peer_uid,
        )
    try:
        params = method.parse(request.params)
    except ValidationError as error:
        problems = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in error.errors(include_url=False, include_context=False, include_input=False)
        ]
        await send(
            encode_error(
                request.id,
                ErrorCode.INVALID_PARAMS,
                f"invalid params for {method.name}: {len(problems)} problem(s)",
                {"errors": problems},
            )
        )
        return
    try:
        if method.streamed:
            await _stream(verbs, method, params, context, request, send, deadline, timeout)
            return
        with deadline.phase(timeout):
            outcome = method.handler(params, context)
            assert inspect.isawaitable(outcome), f"unary method {method.name} must be async"
            result = await outcome
        frame = encode_result(request.id, result)
    except (asyncio.CancelledError, PeerGone):
        raise
    except Exception as error:
        await _send_error(verbs, method, request, send, error)
        return
    await send(frame)


async def _stream(
    verbs: VerbTable,
    method: Method,
    params: Any,
    context: MethodContext,
    request: Request,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> None:
    items = method.handler(params, context)
    assert isinstance(items, AsyncIterator), f"streamed method {method.name} must be an async generator"
    count = 0
    try:
        while True:
            with deadline.phase(timeout):
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    break
            await send(encode_result(request.id, item, more=True))
            count += 1
    except (asyncio.CancelledError, PeerGone):
        raise
    except Exception as error:
        await _send_error(verbs, method, request, send, error)
        return
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    await send(encode_result(request.id, {"items": count}))


async def _send_error(
    verbs: VerbTable, method: Method, request: Request, send: Send, error: Exception
) -> None:
    code, message, data = verbs.error_for(error)
    if code is ErrorCode.INTERNAL:
        log.error("control method %s failed", method.name, exc_info=error)
    await send(encode_error(request.id, code, message, data))
