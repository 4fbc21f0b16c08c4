"""DELIBERATE HIDDEN STATE, kept for migration: the legacy span stacks, a module-global dict keyed by task.

This is what Foundation's process-dictionary Span was (``Process.put({Span, :span_stack}, ...)``): each
task's open spans are a stack (a list, innermost last) in one dict of this module, under the task;
a second dict finds an open span by id. It is the legacy half of span management's two paths; the
supervised half is the span server's table (``daemon.spans``, ``arbord.spans``).
``daemon.spans.switched`` chooses between them per span start by the flag
``use_genserver_span_management``; nothing else imports this module. docs/migrations.md ("Error
context and spans: the two paths") says why it is kept.

A span started here is a ``LegacySpanRef``: a ``SpanRef`` whose class says which path holds it, so
that it ends here whatever the flag says by then. What it shares with the supervised path:

- the *current span* pointer, ``daemon.context``'s ``SpanRef`` (ids only): a span's parent is the
  current span whichever path holds it, so a trace goes on unbroken across a flip, and
  ``traceparent`` and logs see legacy spans;
- the records (``LiveSpan``), the telemetry events (``daemon.spans.events``: same events, same
  metadata) and, while the span server runs, its limits and drop counts.

What differs (docs/spans.md, "The switched interface"): legacy spans are not in the span server's
table (``arborctl spans`` and crash records do not list them); they record with or without a span
server running (sampled), where supervised ones are non-recording without it; the OTel bridge's
foreign parent is not consulted. Ending follows ``daemon.spans.end_span`` (by ref, wherever in the
stack; an orphan end warns and returns False); Foundation's legacy popped the top whatever ref it was
given.

**The leak, and the difference from Foundation.** A dict keyed by task grows with every task that
ever opened a span, unless entries go when tasks end. Foundation's process dictionary died with its
process (and its open spans with it, without a stop event); a Python dict does not. Here a task's
entry goes when its last span ends, and when the task finishes, one done callback per task ends
what it left open, as the span server does (status ``cancelled`` for a cancelled task, else
``abandoned``, with ``exit_reason``) and removes the entry.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping
from random import getrandbits
from typing import Any, Final

from daemon.context import SpanRef, current_span_ref, set_span_ref
from daemon.spans.events import emit_orphan_end, emit_start, emit_stop
from daemon.spans.limits import Limits, printable
from daemon.spans.record import LiveSpan
from daemon.spans.server import SPANS_NAME, SpanServer
from supervisor.lowlevel import names_view

__all__ = ["LegacySpanRef", "end_span", "held", "open_count", "start_span"]

log = logging.getLogger("daemon.spans")


class LegacySpanRef(SpanRef):
    """A ``SpanRef`` of a span the legacy path holds: equal to, and hashed as, the plain one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"LegacySpanRef(trace_id={self[0]!r}, span_id={self[1]!r}, sampled={self[2]!r})"


_stacks: dict[asyncio.Task[Any], list[LiveSpan]] = {}
"""The hidden state itself: task -> its open spans, innermost last."""
_open: dict[str, LiveSpan] = {}
"""Every open legacy span by id, to end one from whichever task."""
_watched: set[asyncio.Task[Any]] = set()
"""The tasks that have a done callback ending what they leave open (one callback per task)."""
_limits = Limits()
"""The limits used while no span server runs (its own, while it runs)."""

_named: Final = names_view().get
_current_task: Final = asyncio.current_task
_bits: Final = getrandbits
_new_ref: Final = tuple.__new__


def _server() -> SpanServer | None:
    server = _named(SPANS_NAME)
    return server if isinstance(server, SpanServer) and server.recording else None


def start_span(name: str, attributes: Mapping[str, object] | None = None) -> LegacySpanRef:
    """Open a span as ``daemon.spans.start_span`` does, on this task's legacy stack; make it current."""
    parent = current_span_ref()
    span_id = (_bits(64) or 1).to_bytes(8, "big").hex()
    if parent is None:
        trace_id = (_bits(128) or 1).to_bytes(16, "big").hex()
        ref = _new_ref(LegacySpanRef, (trace_id, span_id, True, None, False))
    else:
        ref = _new_ref(LegacySpanRef, (parent[0], span_id, parent[2], parent, False))
    set_span_ref(ref)
    try:
        task = _current_task()
    except RuntimeError:  # no running loop: plain synchronous code records nothing (as supervised)
        return ref
    if task is None:
        return ref
    server = _server()
    limits = _limits if server is None else server.limits
    if name.__class__ is not str:
        limits.drop("name_type", name)
        name = printable(name)
    kept = limits.attributes(attributes, {}) if attributes else {}
    parent_live = None
    if parent is not None:
        parent_live = _open.get(parent[1])
        if parent_live is None and server is not None:
            parent_live = server.find(parent[1])
    live = LiveSpan(name, ref, parent_live, kept, task)
    stack = _stacks.get(task)
    if stack is None:
        _stacks[task] = [live]
        if task not in _watched:
            _watched.add(task)
            task.add_done_callback(_task_done)
    else:
        stack.append(live)
    _open[span_id] = live
    emit_start(live)
    return ref


def end_span(
    ref: SpanRef,
    status: str = "ok",
    *,
    error: BaseException | str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> bool:
    """End legacy span ``ref`` as ``daemon.spans.end_span`` ends a supervised one (same return,
    events and current span afterwards)."""
    current = current_span_ref()
    span_id = ref[1]
    live = _open.pop(span_id, None)
    if live is None:
        log.warning("end_span: span %s %s", span_id, "not open (unknown, or already ended)")
        emit_orphan_end(span_id, ref[0], "not open (unknown, or already ended)")
        return False
    live.ended = True
    _unstack(live)
    ref = live.ref  # the span's own ref, with its parent, whatever ref with its ids was given
    if current is not None and current[1] == span_id:
        parent = live.parent_live
        set_span_ref(ref[3] if parent is None or not parent.ended else live.restore_to())
    server = _server()
    limits = _limits if server is None else server.limits
    extra: dict[str, object] | None = None
    text = None
    if error is not None:
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}"
            if limits.traceback:
                extra = {"stacktrace": "".join(traceback.format_exception(error))}
        else:
            text = str(error)
    if attributes:
        extra = limits.attributes(attributes, extra or {})
    emit_stop(live, status, text, extra)
    return True


def _unstack(live: LiveSpan) -> None:
    task = live.task
    stack = _stacks.get(task)
    if stack is None:
        return
    if stack[-1] is live:
        stack.pop()
    else:
        stack.remove(live)
    if not stack:
        del _stacks[task]


def _task_done(task: asyncio.Task[Any]) -> None:
    _watched.discard(task)
    stack = _stacks.pop(task, None)
    if not stack:
        return
    # The task's exception is not read here (that would mark it retrieved, and silence asyncio's
    # "never retrieved" report): the status says how it ended, the reason names the task.
    status = "cancelled" if task.cancelled() else "abandoned"
    extra = {"exit_reason": f"task {task.get_name()} done"}
    for live in reversed(stack):  # innermost first, as the stack would have unwound
        _open.pop(live.ref[1], None)
        live.ended = True
        emit_stop(live, status, None, extra)


def held() -> int:
    """How many tasks have a stack: 0 when every legacy span has ended or its task is done."""
    return len(_stacks)


def open_count() -> int:
    """How many legacy spans are open."""
    return len(_open)
