"""Spans: per-task span stacks with W3C trace ids, recorded by the span server ``arbord.spans``.

The current span of a task is a ``SpanRef`` (ids only) in ``daemon.context``; what is in flight is
the span server's table, keyed by task, which callers write in their own task and whose rows a
dying task's spans leave (ended ``abandoned`` or ``cancelled``). ``docs/spans.md`` is the guide.

>>> import asyncio
>>> async def demo() -> list[object]:
...     server = await SpanServer.start(name=SPANS_NAME)
...     with span("request") as ref:
...         header = traceparent()
...     await server.stop()
...     return [header == f"00-{ref.trace_id}-{ref.span_id}-01", current_trace_id()]
>>> asyncio.run(demo())
[True, None]
"""

from __future__ import annotations

from daemon.context import SpanRef
from daemon.spans.api import (
    add_attributes,
    current_span,
    current_trace_id,
    end_span,
    from_traceparent,
    link_span,
    propagate_context,
    record_event,
    span,
    start_span,
    traceparent,
    with_propagated_context,
)
from daemon.spans.config import SpansSettings
from daemon.spans.errors import BadTraceparent
from daemon.spans.events import ATTRIBUTES, EVENT, LINK, ORPHAN_END, START, STOP
from daemon.spans.record import FinishedSpan, OpenSpan, SpanEvent, SpanLink
from daemon.spans.server import SPANS_NAME, SpanServer, SpanStatistics

__all__ = [
    "ATTRIBUTES",
    "EVENT",
    "LINK",
    "ORPHAN_END",
    "SPANS_NAME",
    "START",
    "STOP",
    "BadTraceparent",
    "FinishedSpan",
    "OpenSpan",
    "SpanEvent",
    "SpanLink",
    "SpanRef",
    "SpanServer",
    "SpanStatistics",
    "SpansSettings",
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
