"""What a crash left open: the crash log's ``OpenSpansHook`` over the span server (``arbord.spans``),
which keeps, for its last crashes, the spans each crash left open as they were at the crash.

Without a span server (a daemon without the spans component, a test), a crash records none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.spans import SPANS_NAME, SpanServer
from supervisor import Exit, whereis

__all__ = ["spans_left_open"]


def spans_left_open(metadata: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The spans the crash in ``metadata`` (a child exit's telemetry metadata) left open, outermost
    first, as ``{name, trace_id, span_id, parent_id, task, age, attributes}``."""
    reason = metadata.get("reason")
    exception = reason.exception if isinstance(reason, Exit) else None
    server = whereis(SPANS_NAME)
    if exception is None or not isinstance(server, SpanServer):
        return ()
    return [
        {
            "name": span.name,
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "parent_id": span.parent_id,
            "task": span.task,
            "age": round(span.age, 3),
            "attributes": dict(span.attributes),
        }
        for span in server.open_at_crash(exception)
    ]
