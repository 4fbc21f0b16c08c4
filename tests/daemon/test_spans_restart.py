"""Crash → restart in the trace (daemon/spans/restarts.py): the crash, the restart decision and the
new incarnation's init are spans of the crashed server's trace, the init linked to the crashed
incarnation's last span."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from daemon.spans import SPANS_NAME, STOP, FinishedSpan, SpanServer, start_span
from supervisor import ChildSpec, Server, Supervisor, whereis
from supervisor.telemetry import Capture
from supervisor.testing import capture, settle


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


class Worker(Server):
    async def init(self, started: asyncio.Queue[Server]) -> None:
        started.put_nowait(self)

    async def handle_call(self, request: object, caller: object) -> object:
        start_span("request")
        start_span("step")
        raise RuntimeError("worker failed")


def _finished(stops: Capture) -> dict[str, FinishedSpan]:
    spans = [c.metadata["span"] for c in stops]
    return {s.name: s for s in spans if isinstance(s, FinishedSpan)}


async def test_a_crash_and_its_restart_are_spans_of_the_crashed_servers_trace(spans: SpanServer) -> None:
    started: asyncio.Queue[Server] = asyncio.Queue()
    supervisor = await Supervisor.start(
        [ChildSpec("worker", Worker, args=(started,), name="test.worker")], name="test.sup"
    )
    first = await started.get()
    with capture(STOP) as stops:
        with pytest.raises(Exception, match="worker failed"):
            await first.call("go")
        second = await started.get()
        await settle(supervisor)
    assert second is not first
    assert whereis("test.worker") is second
    by_name = _finished(stops)
    step, request = by_name["step"], by_name["request"]
    crash, restart, init = by_name["crash test.worker"], by_name["restart worker"], by_name["init worker"]
    # The spans the crash left open: ended with the exit reason, innermost first.
    assert [s.name for s in _finished(stops).values()][:2] == ["step", "request"]
    assert (step.status, step.error) == ("abandoned", "RuntimeError: worker failed")
    # crash -> restart decision -> init, one trace.
    assert {s.trace_id for s in (step, request, crash, restart, init)} == {request.trace_id}
    assert (crash.status, crash.parent_id) == ("error", step.span_id)
    assert (restart.parent_id, restart.attributes["strategy"]) == (crash.span_id, "one_for_one")
    assert (init.parent_id, init.status) == (restart.span_id, "ok")
    assert [(link.trace_id, link.span_id) for link in init.links] == [(step.trace_id, step.span_id)]
    await supervisor.stop()


async def test_a_server_that_crashes_with_no_span_ever_opened_leaves_no_trace(spans: SpanServer) -> None:
    class Quiet(Server):
        async def handle_cast(self, message: object) -> None:
            raise RuntimeError("quiet failure")

    supervisor = await Supervisor.start([ChildSpec("quiet", Quiet, name="test.quiet")])
    quiet = whereis("test.quiet")
    assert quiet is not None
    with capture(STOP) as stops:
        quiet.cast("go")
        await quiet.wait()
        await settle(supervisor)
    assert stops == []
    await supervisor.stop()
