"""Every control request runs inside a server span, ``control <method>``, continuing the trace of a
``traceparent`` the request carries (docs/control-protocol.md, docs/spans.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.ctl.client import ControlClient, open_control_client
from daemon.spans import SPANS_NAME, STOP, FinishedSpan, SpanServer
from supervisor.testing import capture
from tests.daemon.test_control_helpers import running_control

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


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
