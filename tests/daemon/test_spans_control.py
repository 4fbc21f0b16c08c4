"""Every control request runs inside a server span, ``control <method>``, continuing the trace of a
``traceparent`` the request carries (docs/control-protocol.md, docs/spans.md).

The span is opened through the switched interface (``daemon.spans.switched``): every test here runs
with ``otp_cleanup``'s flags choosing the supervised path and again choosing the legacy one, and the
replies, spans, log fields and correlation ids must be the same; only where the span is held (the span
server's table, or the legacy stacks) and ``REQUEST``'s ``span_path`` differ (docs/migrations.md,
"The daemon's own paths")."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.context import ContextFilter
from daemon.control.dispatch import REQUEST
from daemon.ctl.client import ControlClient, open_control_client
from daemon.legacy import span_stacks
from daemon.spans import STOP, FinishedSpan, SpanServer
from daemon.spans.switched import backend
from supervisor.testing import capture, wait_for
from tests.daemon.switched_paths import paths
from tests.daemon.test_control_helpers import running_control

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(params=["supervised", "legacy"])
async def spans(request: pytest.FixtureRequest) -> AsyncIterator[SpanServer]:
    """The span server, with the flags choosing the parameter's path for the request spans."""
    async with paths(request.param) as running:
        assert backend() == request.param
        yield running.spans


async def _raw(client: ControlClient, message: dict[str, Any]) -> dict[str, Any]:
    await client.send_raw(json.dumps(message).encode() + b"\n")
    return await client.read_reply()


def _control_spans(stops: list[Any]) -> list[FinishedSpan]:
    found = [c.metadata["span"] for c in stops]
    return [s for s in found if isinstance(s, FinishedSpan) and s.name.startswith("control ")]


@pytest.mark.usefixtures("spans")
async def test_a_request_with_a_traceparent_runs_in_a_span_of_that_trace() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        with capture(STOP) as stops:
            reply = await _raw(client, {"id": 1, "method": "ping", "traceparent": f"00-{TRACE}-{PARENT}-01"})
    assert reply == {"id": 1, "result": {"pong": True}}
    (request,) = _control_spans(stops)
    assert (request.name, request.trace_id, request.parent_id, request.status) == (
        "control ping",
        TRACE,
        PARENT,
        "ok",
    )
    assert request.remote_parent
    assert request.attributes["rpc.method"] == "ping"


@pytest.mark.usefixtures("spans")
async def test_a_request_without_one_starts_a_trace_of_its_own() -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        with capture(STOP) as stops:
            await _raw(client, {"id": 1, "method": "ping"})
    (request,) = _control_spans(stops)
    assert request.parent_id is None
    assert request.trace_id != TRACE


@pytest.mark.usefixtures("spans")
@pytest.mark.parametrize("header", [f"00-{'0' * 32}-{PARENT}-01", "nonsense", 7])
async def test_a_malformed_traceparent_is_answered_invalid_request(header: object) -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        reply = await _raw(client, {"id": 3, "method": "ping", "traceparent": header})
        assert reply["error"]["code"] == "invalid_request"
        assert "traceparent" in reply["error"]["message"]
        # The connection still serves.
        assert await client.call("ping") == {"pong": True}


def _held_by_server(server: SpanServer, name: str) -> bool:
    return any(live.name == name for _, held, _ in server.table.tab2list() for live in list(held.values()))


async def test_the_request_span_is_held_by_the_path_the_flag_chooses(spans: SpanServer) -> None:
    supervised = backend() == "supervised"
    async with running_control() as h, open_control_client(h.path) as client:
        with capture(REQUEST) as requests:
            waiting = asyncio.create_task(client.call("test.wait"))
            if supervised:
                await wait_for(lambda: _held_by_server(spans, "control test.wait"))
                assert span_stacks.open_count() == 0
            else:
                await wait_for(lambda: span_stacks.open_count() == 1)
                assert not _held_by_server(spans, "control test.wait")
            h.gate.set()
            assert await waiting == {"waited": True}
    assert span_stacks.open_count() == 0
    (done,) = requests
    assert done.metadata == {"method": "test.wait", "error": "", "span_path": backend()}


async def test_a_malformed_traceparent_opens_no_span_on_either_path(spans: SpanServer) -> None:
    async with running_control() as h, open_control_client(h.path) as client:
        with capture(REQUEST) as requests:
            await _raw(client, {"id": 3, "method": "ping", "traceparent": "nonsense"})
    (done,) = requests
    assert done.metadata == {"method": "ping", "error": "invalid_request", "span_path": ""}


async def test_an_internal_error_shares_the_request_trace_in_reply_and_log(
    spans: SpanServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter())
    async with running_control() as h, open_control_client(h.path) as client:
        with capture(STOP) as stops, caplog.at_level(logging.ERROR, "daemon.control"):
            reply = await _raw(
                client, {"id": 5, "method": "test.boom", "traceparent": f"00-{TRACE}-{PARENT}-01"}
            )
    assert reply["error"]["code"] == "internal"
    assert reply["error"]["correlation_id"] == TRACE
    (request,) = _control_spans(stops)
    assert (request.name, request.trace_id, request.parent_id, request.status) == (
        "control test.boom",
        TRACE,
        PARENT,
        "ok",
    )
    (record,) = [r for r in caplog.records if r.name == "daemon.control"]
    fields = {k: record.__dict__[k] for k in ("correlation_id", "trace_id", "span_id", "context")}
    assert fields == {"correlation_id": TRACE, "trace_id": TRACE, "span_id": request.span_id, "context": {}}
