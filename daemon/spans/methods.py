"""The span server's control method: ``spans.list``, the spans in flight (``arborctl spans``).

Each item is ``{task, name, age, trace_id, span_id, parent_id}``, oldest first; ``trace`` keeps
one trace's, ``older_than`` (seconds) the ones open at least that long: the stuck operations. Paged
like the other lists (``limit``, ``offset``, ``next``; daemon/verbs/paging.py), walked in slices
(daemon/chunked.py).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.chunked import keep_chunked, map_chunked
from daemon.errors import ControlError
from daemon.spans.record import LiveSpan, OpenSpan
from daemon.spans.server import SPANS_NAME, SpanServer
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from daemon.verbs.paging import DEFAULT_LIMIT, Limit, Offset, page
from supervisor import whereis

__all__ = ["spans_methods"]

TraceId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class ListParams(BaseModel):
    """``spans.list``: one trace's spans (``trace``), spans open at least ``older_than`` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trace: TraceId | None = None
    older_than: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


def _item(span: OpenSpan) -> dict[str, Any]:
    return {
        "task": span.task,
        "name": span.name,
        "age": round(span.age, 3),
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
    }


@verb("spans.list", "the spans in flight: task, name, age, trace id (trace=ID, older_than=SECONDS)")
async def spans_list(params: ListParams, context: MethodContext) -> dict[str, Any]:
    server = whereis(SPANS_NAME)
    if not isinstance(server, SpanServer):
        message = f"the span server {SPANS_NAME} is not running"
        raise ControlError(ErrorCode.SERVER_DOWN, message, {"server": SPANS_NAME})
    lives = [live for _, spans, _ in server.table.tab2list() for live in list(spans.values())]
    now = time.perf_counter_ns()
    trace = params.trace
    oldest = None if params.older_than is None else now - int(params.older_than * 1e9)

    def wanted(live: LiveSpan) -> bool:
        if live.ended or (trace is not None and live.ref.trace_id != trace):
            return False
        return oldest is None or live.start_ns <= oldest

    kept = await keep_chunked(lives, wanted)
    kept.sort(key=lambda live: live.start_ns)
    views = await map_chunked(kept, lambda live: live.view(now))
    listed = page(views, params.offset, params.limit, _item)
    return {"spans": listed.items, "total": len(views), "next": listed.next}


def spans_methods() -> tuple[Method, ...]:
    """The span server's control methods."""
    return methods_of(globals())
