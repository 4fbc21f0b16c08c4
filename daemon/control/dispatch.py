"""Running one request: find the method, validate its params, run its handler, turn the outcome into
frames. Whatever the handler does, the request gets exactly one final frame (after any ``more`` ones).

Exceptions become error codes through the table's error map (``daemon.verbs.error_codes``: a
``ControlError`` or a component's error carries its own code, the components map the rest); anything
unmapped is a bug, logged with its traceback and answered ``internal`` (the message does not leak the
traceback). The transport knows no component: what it serves is the ``VerbTable`` it is given.

Every error reply carries the request's ``correlation_id`` (the current operation's, else the
request span's trace id, else a fresh one), and the log line of an ``internal`` error carries the
same id, in its text and as the record's ``correlation_id`` (docs/context.md, "Logs").

The request's server span is arbord's own use of the migration toolkit: it is opened through the
switched interface (``daemon.spans.switched``), so the ``otp_cleanup`` flag
``use_genserver_span_management`` chooses per request whether the span server's table or the legacy
span stacks hold it (docs/migrations.md, "The daemon's own paths"). Both paths give the request the
same span ids, parent, events and current-span pointer, so replies, logs and ``traceparent``
handling do not depend on the stage; ``REQUEST``'s ``span_path`` says which path held the span.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from pydantic import ValidationError

from daemon.context import context_of, current_correlation_id
from daemon.control.deadline import Deadline
from daemon.control.protocol import Request, encode_error, encode_result
from daemon.operation import new_correlation_id
from daemon.spans import BadTraceparent, from_traceparent, with_propagated_context
from daemon.spans.switched import backend_of, span
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, VerbTable
from supervisor import telemetry

__all__ = ["AUDITED", "REJECTED", "REQUEST", "PeerGone", "Send", "dispatch", "rejected"]

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

REQUEST: Final = ("arbord", "control", "request")
"""Emitted once per request answered (or abandoned): measurement ``duration`` (ns); metadata
``method`` (``"(unknown)"`` for a name the daemon does not have, so clients cannot mint new
values) and ``error``: the error code answered, ``""`` for a result, ``"aborted"`` when the peer
left or the request was cancelled before its answer; and ``span_path``: the path that held the
request's server span, ``"supervised"`` or ``"legacy"`` (``""`` when no span was opened: a
malformed ``traceparent``)."""
_UNKNOWN: Final = "(unknown)"

REJECTED: Final = ("arbord", "control", "rejected")
"""Emitted once per frame or peer the control socket turned down before any method ran (RELIABILITY
X1: a counter, not a log line per bad frame): measurement ``count`` (1); metadata ``reason``, the
error code answered: ``parse_error`` and ``invalid_request`` (a bad frame), ``frame_too_large``,
``permission_denied`` and ``busy`` (a refused peer)."""


def rejected(reason: ErrorCode) -> None:
    """Emit ``REJECTED`` for ``reason`` (nothing when nobody listens: one set lookup)."""
    if REJECTED in telemetry.active_events:
        telemetry.execute(REJECTED, {"count": 1}, {"reason": reason.value})


async def dispatch(
    verbs: VerbTable,
    request: Request,
    context: MethodContext,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> None:
    """Answer ``request`` through ``send``: its result (or stream) or its error, always ending it;
    then emit ``REQUEST``.

    The request runs inside a server span, ``control <method>``, which continues the caller's trace
    when the request carries a ``traceparent`` (a malformed one is answered ``invalid_request``)."""
    started = time.perf_counter_ns()
    error = "aborted"
    path = ""
    try:
        try:
            remote = None if request.traceparent is None else from_traceparent(request.traceparent)
        except BadTraceparent as bad:
            await send(encode_error(request.id, ErrorCode.INVALID_REQUEST, str(bad)))
            error = ErrorCode.INVALID_REQUEST.value
            return
        attributes = {"rpc.system": "arbord", "rpc.method": request.method[:200]}
        with with_propagated_context(remote), span(f"control {request.method[:100]}", attributes) as ref:
            path = backend_of(ref)
            error = await _answer(verbs, request, context, send, deadline, timeout) or ""
    finally:
        if REQUEST in telemetry.active_events:
            method = request.method if request.method in verbs.methods else _UNKNOWN
            duration = time.perf_counter_ns() - started
            metadata = {"method": method, "error": error, "span_path": path}
            telemetry.execute(REQUEST, {"duration": duration}, metadata)


async def _answer(
    verbs: VerbTable,
    request: Request,
    context: MethodContext,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> str | None:
    """``dispatch``'s work; returns the error code answered, or None for a result."""
    method = verbs.methods.get(request.method)
    if method is None:
        await send(
            encode_error(
                request.id,
                ErrorCode.METHOD_NOT_FOUND,
                f"no method {request.method!r}",
                {"correlation_id": _correlation_id()},
            )
        )
        return ErrorCode.METHOD_NOT_FOUND.value
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
                {"errors": problems, "correlation_id": _correlation_id()},
            )
        )
        return ErrorCode.INVALID_PARAMS.value
    try:
        if method.streamed:
            return await _stream(verbs, method, params, context, request, send, deadline, timeout)
        with deadline.phase(timeout):
            outcome = method.handler(params, context)
            assert inspect.isawaitable(outcome), f"unary method {method.name} must be async"
            result = await outcome
        frame = encode_result(request.id, result)
    except (asyncio.CancelledError, PeerGone):
        raise
    except Exception as error:
        return await _send_error(verbs, method, request, send, error)
    await send(frame)
    return None


async def _stream(
    verbs: VerbTable,
    method: Method,
    params: Any,
    context: MethodContext,
    request: Request,
    send: Send,
    deadline: Deadline,
    timeout: float,
) -> str | None:
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
        return await _send_error(verbs, method, request, send, error)
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    await send(encode_result(request.id, {"items": count}))
    return None


async def _send_error(
    verbs: VerbTable, method: Method, request: Request, send: Send, error: Exception
) -> str:
    code, message, data = verbs.error_for(error)
    carried = context_of(error)  # the handler's own operation, when it ran one
    correlation_id = (carried.correlation_id if carried is not None else None) or _correlation_id()
    if code is ErrorCode.INTERNAL:
        log.error(
            "control method %s failed (correlation id %s)",
            method.name,
            correlation_id,
            exc_info=error,
            extra={"correlation_id": correlation_id},
        )
    await send(encode_error(request.id, code, message, {**(data or {}), "correlation_id": correlation_id}))
    return code.value


def _correlation_id() -> str:
    """The id an error reply and its log line share (docs/context.md, "Logs")."""
    return current_correlation_id() or new_correlation_id()
