"""Spans: ``start_span``/``end_span``, the ``span`` block, and what a running span can be given.

Everything here runs in the caller's task and never waits: the current span is a ``SpanRef`` in
``daemon.context``; the span itself is a row of the span server's table (``arbord.spans``), written
by the caller. Without a span server, spans are *non-recording* (as OpenTelemetry's): they get ids
and nest (``traceparent``, ``current_trace_id`` work), but nothing is recorded or emitted.

>>> import asyncio
>>> from daemon.spans.server import SPANS_NAME, SpanServer
>>> async def demo() -> list[object]:
...     server = await SpanServer.start(name=SPANS_NAME)
...     with span("outer") as outer:
...         inner = start_span("inner", {"rows": 3})
...         nested = current_span().parent_id == outer.span_id
...         same_trace = current_trace_id() == outer.trace_id
...         ended = [end_span(inner), end_span(inner)]  # the second is an orphan end: False
...     await server.stop()
...     return [nested, same_trace, ended, current_span()]
>>> asyncio.run(demo())
[True, True, [True, False], None]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from random import getrandbits
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from daemon.context import SpanRef, current_span_ref, reset_span_ref, set_span_ref
from daemon.context_core import SPEEDUPS
from daemon.spans.block import SpanBlock
from daemon.spans.events import (
    START,
    STOP,
    emit_attributes,
    emit_event,
    emit_link,
    emit_orphan_end,
    emit_start,
    emit_stop,
)
from daemon.spans.ids import (
    format_traceparent,
    is_span_id,
    is_trace_id,
    parse_traceparent,
)
from daemon.spans.limits import printable
from daemon.spans.record import LiveSpan, OpenSpan, SpanEvent, SpanLink
from daemon.spans.server import SPANS_NAME, SpanServer
from supervisor import telemetry
from supervisor.lowlevel import names_view

__all__ = [
    "add_attributes",
    "current_span",
    "current_trace_id",
    "end_span",
    "from_traceparent",
    "link_span",
    "propagate_context",
    "record_event",
    "span",
    "start_span",
    "traceparent",
    "with_propagated_context",
]

log = logging.getLogger("daemon.spans")

P = ParamSpec("P")
R = TypeVar("R")

if sys.version_info >= (3, 12):
    _current_task: Final = asyncio.current_task
else:  # pragma: no cover - the version in use decides
    # 3.11's asyncio.current_task is a Python function around one lookup in the C table of running
    # tasks; calling that lookup directly is a tenth of a span's start (bench/bench_spans.py). 3.12
    # made current_task itself C.
    _running_tasks: Final[dict[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = asyncio.tasks._current_tasks  # type: ignore[attr-defined]
    _tasks_get: Final = _running_tasks.get
    _running_loop: Final = asyncio.get_running_loop

    def _current_task() -> asyncio.Task[Any] | None:
        return _tasks_get(_running_loop())


_get_ref: Final = current_span_ref
_set_ref: Final = set_span_ref
_named: Final = names_view().get
_bits: Final = getrandbits
_new_ref: Final = tuple.__new__
_active: Final = telemetry.active_events
_START: Final = START
_STOP: Final = STOP


def _server() -> SpanServer | None:
    server = _named(SPANS_NAME)
    return server if isinstance(server, SpanServer) and server.recording else None


def _start_span(name: str, attributes: Mapping[str, object] | None) -> SpanRef:
    """``start_span`` in Python: the twin of the C ``start``, and the path it hands back to."""
    # The hot path: every call here is paid per span (bench/bench_spans.py, target 10x faster than
    # OTel's SDK). Ids as in daemon/spans/ids.py, inlined; `or 1`: an all-zero id is invalid.
    # Bytes' hex() is three times faster than a format spec of a big int.
    parent = _get_ref()
    server = _named(SPANS_NAME)
    if server is not None and not (isinstance(server, SpanServer) and server.recording):
        server = None
    if parent is None:
        if server is not None and server.foreign_parent is not None:
            parent = server.foreign_parent()
        if parent is None:
            ref = _new_ref(
                SpanRef,
                (
                    (_bits(128) or 1).to_bytes(16, "big").hex(),
                    (_bits(64) or 1).to_bytes(8, "big").hex(),
                    server is not None,
                    None,
                    False,
                ),
            )
        else:
            ref = _new_ref(
                SpanRef, (parent[0], (_bits(64) or 1).to_bytes(8, "big").hex(), parent[2], parent, False)
            )
    else:
        ref = _new_ref(
            SpanRef, (parent[0], (_bits(64) or 1).to_bytes(8, "big").hex(), parent[2], parent, False)
        )
    _set_ref(ref)
    if server is None:
        return ref
    try:
        task = _current_task()
    except RuntimeError:  # no running loop: plain synchronous code records nothing
        return ref
    if task is None:
        return ref
    if name.__class__ is not str:
        server.limits.drop("name_type", name)
        name = printable(name)
    kept = server.limits.attributes(attributes, {}) if attributes else {}
    row = server.row_of(task)
    if row is None:  # the task's first span: its row and its exit callback
        live = server.open(name, ref, kept, task)
    else:  # SpanServer.open's common case, inline (a Python call is a tenth of a start)
        by_id = server.open_by_id
        parent = ref[3]
        span_id = ref[1]
        live = LiveSpan(name, ref, None if parent is None else by_id.get(parent[1]), kept, task)
        row[1][span_id] = live
        by_id[span_id] = live
    if _START in _active:
        emit_start(live)
    return ref


def _end_span(
    ref: SpanRef | None,
    status: str,
    error: BaseException | str | None,
    attributes: Mapping[str, object] | None,
) -> bool:
    """``end_span`` in Python: the twin of the C ``end``, and the path it hands back to."""
    current = _get_ref()
    if ref is None:
        ref = current
        if ref is None:
            return _orphan(None, "no current span")
    elif ref.__class__ is not SpanRef:
        return _orphan(ref, "not a SpanRef")
    span_id = ref[1]
    server = _named(SPANS_NAME)
    if server is None or not (isinstance(server, SpanServer) and server.recording):
        if current is not None and current[1] == span_id:
            _set_ref(ref[3])
        return True
    # Out of the index and of its task's row (from whichever task it is ended).
    live = server.open_by_id.pop(span_id, None)
    if live is None:
        return _orphan(ref, "not open (unknown, or already ended)")
    live.ended = True
    row = server.row_of(live.task)
    if row is not None:
        row[1].pop(span_id, None)
    if current is not None and current[1] == span_id:
        parent = live.parent_live
        if parent is None or not parent.ended:
            _set_ref(ref[3])
        else:
            _set_ref(live.restore_to())
    if _STOP in _active:
        _stop(server, live, status, error, attributes)
    return True


if TYPE_CHECKING or SPEEDUPS is None:

    def start_span(name: str, attributes: Mapping[str, object] | None = None) -> SpanRef:
        """Open a span named ``name``, child of the current span (or of the OTel span current, with
        the bridge; else the root of a new trace), and make it current. Returns its ``SpanRef``.

        Never raises for bad input: a name that is not a ``str`` is replaced by its ``repr``,
        attributes OTel's rules refuse are dropped; both are counted (``SpanStatistics.dropped``)."""
        return _start_span(name, attributes)

    def end_span(
        ref: SpanRef | None = None,
        status: str = "ok",
        *,
        error: BaseException | str | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> bool:
        """End span ``ref`` (default: the current one), wherever it is in the stack: spans opened
        inside it that are still open stay open and keep their parent id. When it was current, its
        nearest open ancestor becomes current. ``status`` is ``ok``, ``error`` (give ``error``),
        ``cancelled`` or ``abandoned``; ``attributes`` go into the stop event.

        Returns False for a span that is not open (unknown, or already ended) after one warning and
        the event ``("arbord", "span", "orphan_end")``; never raises, never touches another span.
        Without a span server (non-recording spans) it only puts the parent back."""
        return _end_span(ref, status, error, attributes)

else:  # the same two functions in C (daemon/_context_speedups.c): the common case there, with no
    # Python frame; every other case comes back to _start_span and _end_span, their twins.
    SPEEDUPS.configure_spans(
        ref_type=SpanRef,
        live_type=LiveSpan,
        server_type=SpanServer,
        lookup=_named,
        server_name=SPANS_NAME,
        active=_active,
        start_event=_START,
        stop_event=_STOP,
        getrandbits=_bits,
        running_loop=asyncio.get_running_loop,
        tasks=_running_tasks if sys.version_info < (3, 12) else None,
        current_task=asyncio.current_task,
        time_ns=time.time_ns,
        perf_counter_ns=time.perf_counter_ns,
        slow_start=_start_span,
        slow_end=_end_span,
        emit_start=emit_start,
        stop=lambda server, live, status, error, attributes: _stop(server, live, status, error, attributes),
    )
    start_span = SPEEDUPS.start_span
    end_span = SPEEDUPS.end_span


def _stop(
    server: SpanServer,
    live: LiveSpan,
    status: str,
    error: BaseException | str | None,
    attributes: Mapping[str, object] | None,
) -> None:
    extra: dict[str, object] | None = None
    text = None
    if error is not None:
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}"
            if server.limits.traceback:
                extra = {"stacktrace": "".join(traceback.format_exception(error))}
        else:
            text = str(error)
    if attributes:
        extra = server.limits.attributes(attributes, extra or {})
    emit_stop(live, status, text, extra)


def _orphan(ref: object, reason: str) -> bool:
    span_id = getattr(ref, "span_id", None)
    log.warning("end_span: span %s %s", span_id or repr(ref)[:80], reason)
    emit_orphan_end(span_id, getattr(ref, "trace_id", None), reason)
    return False


def _live() -> tuple[SpanServer, LiveSpan] | None:
    ref = current_span_ref()
    if ref is None:
        return None
    server = _server()
    if server is None:
        return None
    live = server.find(ref.span_id)
    return None if live is None else (server, live)


def current_span() -> OpenSpan | None:
    """A snapshot of the current span, or None (no span, or a non-recording one)."""
    found = _live()
    return None if found is None else found[1].view(time.perf_counter_ns())


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or None."""
    ref = current_span_ref()
    return None if ref is None else ref.trace_id


def add_attributes(attributes: Mapping[str, object]) -> bool:
    """Merge ``attributes`` into the current span (OTel's rules and limits); False, with a warning,
    when no recording span is current."""
    found = _live()
    if found is None:
        log.warning("add_attributes: no current span")
        return False
    server, live = found
    server.limits.attributes(attributes, live.attributes)
    emit_attributes(live, attributes)
    return True


def record_event(name: str, attributes: Mapping[str, object] | None = None) -> bool:
    """Record that ``name`` happened now in the current span; False, with a warning, when no
    recording span is current. Past ``[spans] max_events`` events are dropped and counted."""
    found = _live()
    if found is None:
        log.warning("record_event: no current span")
        return False
    server, live = found
    limits = server.limits
    if name.__class__ is not str:
        limits.drop("name_type", name)
        name = printable(name)
    events = live.events
    if events is None:
        events = live.events = []
    kept = limits.attributes(attributes, {}) if attributes else {}
    if len(events) >= limits.max_events:
        limits.drop("event_limit", name)
        return True
    event = SpanEvent(name, time.time_ns(), kept)
    events.append(event)
    emit_event(live, name, event.time_ns, kept)
    return True


def link_span(trace_id: str, span_id: str, attributes: Mapping[str, object] | None = None) -> bool:
    """Link the current span to span ``span_id`` of trace ``trace_id`` (W3C ids). False, with a
    warning, when no recording span is current; malformed ids are dropped and counted."""
    found = _live()
    if found is None:
        log.warning("link_span: no current span")
        return False
    server, live = found
    limits = server.limits
    if not (is_trace_id(trace_id) and is_span_id(span_id)):
        limits.drop("bad_link", (trace_id, span_id))
        return False
    links = live.links
    if links is None:
        links = live.links = []
    if len(links) >= limits.max_links:
        limits.drop("link_limit", span_id)
        return True
    link = SpanLink(trace_id, span_id, limits.attributes(attributes, {}) if attributes else {})
    links.append(link)
    emit_link(live, link)
    return True


def traceparent() -> str | None:
    """The W3C ``traceparent`` header of the current span, or None."""
    ref = current_span_ref()
    return None if ref is None else format_traceparent(ref.trace_id, ref.span_id, ref.sampled)


def from_traceparent(header: str) -> SpanRef:
    """The remote span a ``traceparent`` header names, to continue its trace
    (``with_propagated_context``). ``BadTraceparent`` for a malformed header, all-zero ids included."""
    trace_id, span_id, sampled = parse_traceparent(header)
    return SpanRef(trace_id, span_id, sampled, None, True)


def propagate_context() -> dict[str, str]:
    """What a child of the current span elsewhere needs: ``{"traceparent": header}``, or ``{}``.
    Plain strings, so it crosses a socket, a queue or a thread."""
    header = traceparent()
    return {} if header is None else {"traceparent": header}


@contextmanager
def with_propagated_context(context: Mapping[str, str] | SpanRef | str | None) -> Iterator[SpanRef | None]:
    """Make the span ``context`` names current for the block (a ``propagate_context()`` mapping, a
    ``traceparent`` header or a ``SpanRef``); an empty one changes nothing. Restores on exit."""
    if context is None or (isinstance(context, Mapping) and not context):
        yield current_span_ref()
        return
    if isinstance(context, SpanRef):
        ref = context
    else:
        header = context.get("traceparent") if isinstance(context, Mapping) else context
        ref = from_traceparent(header)  # type: ignore[arg-type]
    token = set_span_ref(ref)
    try:
        yield ref
    finally:
        _reset(token, ref)


def _reset(token: Token[SpanRef | None], ref: SpanRef | None) -> None:
    try:
        reset_span_ref(token)
    except ValueError:  # the block ended in another context (an async generator): put back by hand
        if current_span_ref() == ref:
            set_span_ref(token.old_value if token.old_value is not Token.MISSING else None)


class span(SpanBlock, start=start_span, end=end_span):
    """``span(name, attributes)``: a span for a block or a function call.

    ``with span("load") as ref:`` and ``async with span("load") as ref:`` open it on entry and end
    it on exit: ``ok``, or ``error`` with the exception (then re-raised), or ``cancelled``. As a
    decorator (``@span("load")``, on a plain or an ``async`` function), each call runs in a span.
    The span that was current on entry is current again after the block (``SpanBlock``, shared
    with ``daemon.spans.switched.span``)."""

    __slots__ = ()
