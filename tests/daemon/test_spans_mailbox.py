"""Spans and error context across a mailbox: the daemon's envelope hook (daemon/spans/envelope.py)
makes the sender's span the parent, and its error context the context, inside the handler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from daemon import context
from daemon.spans import SPANS_NAME, SpanServer, current_span, span, start_span
from daemon.spans.envelope import CONTEXT_ENVELOPE
from supervisor import Caller, Server
from supervisor.lowlevel import envelope_hook


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


class Worker(Server):
    async def init(self) -> None:
        self.seen: list[object] = []

    async def handle_call(self, request: object, caller: Caller) -> object:
        with span("handle") as ref:
            here = current_span()
            assert here is not None
            return (ref.trace_id, here.parent_id, dict(context._error_context.get()))

    async def handle_cast(self, message: object) -> None:
        self.seen.append(context.current_span_ref())


async def test_the_span_server_installs_the_hook_while_it_runs() -> None:
    assert envelope_hook() is None
    server = await SpanServer.start(name=SPANS_NAME)
    assert envelope_hook() is CONTEXT_ENVELOPE
    await server.stop()
    assert envelope_hook() is None


async def test_the_callers_span_is_the_parent_inside_handle_call(spans: SpanServer) -> None:
    worker = await Worker.start()
    with span("request") as request:
        trace, parent, _ = await worker.call("go")
    assert (trace, parent) == (request.trace_id, request.span_id)
    # Without a span current, the handler's span starts a trace of its own.
    trace, parent, _ = await worker.call("go")
    assert parent is None
    assert trace != request.trace_id
    await worker.stop()


async def test_the_callers_error_context_is_the_context_inside_handle_call(spans: SpanServer) -> None:
    worker = await Worker.start()
    with context.with_context(request_id="r-1"):
        _, _, seen = await worker.call("go")
    assert seen == {"request_id": "r-1"}
    await worker.stop()


async def test_a_cast_carries_the_senders_span(spans: SpanServer) -> None:
    worker = await Worker.start()
    ref = start_span("sender")
    worker.cast("x")
    await worker.call("sync")
    assert worker.seen == [ref]
    await worker.stop()
