"""Running one request: find the method, validate its params, run its handler, turn the outcome into
frames. Whatever the handler does, the request gets exactly one final frame (after any ``more`` ones).

Exceptions become error codes here, in one place: ``ControlError`` carries its own code; the library's
refusals map to ``not_found``/``conflict``/``timeout``; anything else is a bug, logged with its traceback
and answered ``internal`` (the message does not leak the traceback).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

from pydantic import ValidationError

from daemon.control.codes import ErrorCode
from daemon.control.deadline import Deadline
from daemon.control.methods import Method, MethodContext
from daemon.control.protocol import Request, encode_error, encode_result
from daemon.errors import AlreadyRegistered, ControlError, NotIndexed, UnknownCache
from supervisor import (
    AlreadyStarted,
    CallTimeout,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    MaxChildren,
    NoProc,
    ServerExited,
    StartFailed,
    TableGone,
)

__all__ = ["AUDITED", "PeerGone", "Send", "dispatch", "error_for"]

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

_NOT_FOUND = (ChildNotFound, NoProc, ServerExited, TableGone, NotIndexed, UnknownCache)
_CONFLICT = (
    AlreadyStarted,
    ChildAlreadyPresent,
    ChildRunning,
    ChildRestarting,
    MaxChildren,
    AlreadyRegistered,
)


def error_for(error: BaseException) -> tuple[ErrorCode, str, dict[str, Any]]:
    """The error code, message and extra fields a handler's exception is answered with."""
    if isinstance(error, ControlError):
        return error.code, error.message, dict(error.data)
    if isinstance(error, _NOT_FOUND):
        return ErrorCode.NOT_FOUND, str(error), {}
    if isinstance(error, _CONFLICT):
        return ErrorCode.CONFLICT, str(error), {}
    if isinstance(error, CallTimeout | TimeoutError):
        return ErrorCode.TIMEOUT, str(error) or "timed out", {}
    if isinstance(error, StartFailed):
        return ErrorCode.CONFLICT, f"the child failed to start: {error.reason!r}", {}
    return ErrorCode.INTERNAL, f"internal error ({type(error).__name__}); the daemon logged the details", {}


async def dispatch(
    methods: Mapping[str, Method],
    request: Request,
    context: MethodContext,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> None:
    """Answer ``request`` through ``send``: its result (or stream) or its error, always ending it."""
    method = methods.get(request.method)
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
        params = method.params.model_validate(request.params)
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
            await _stream(method, params, context, request, send, deadline, timeout)
            return
        with deadline.phase(timeout):
            outcome = method.handler(params, context)
            assert inspect.isawaitable(outcome), f"unary method {method.name} must be async"
            result = await outcome
        frame = encode_result(request.id, result)
    except (asyncio.CancelledError, PeerGone):
        raise
    except Exception as error:
        await _send_error(method, request, send, error)
        return
    await send(frame)


async def _stream(
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
        await _send_error(method, request, send, error)
        return
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    await send(encode_result(request.id, {"items": count}))


async def _send_error(method: Method, request: Request, send: Send, error: Exception) -> None:
    code, message, data = error_for(error)
    if code is ErrorCode.INTERNAL:
        log.error("control method %s failed", method.name, exc_info=error)
    await send(encode_error(request.id, code, message, data))
