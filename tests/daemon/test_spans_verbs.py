"""``spans.list`` (daemon/spans/methods.py), its rendering, and ``arborctl``'s ``--key VALUE`` words."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable
from typing import Any, cast

import pytest

from daemon.ctl.arborctl import _param_options
from daemon.errors import ControlError
from daemon.spans import SPANS_NAME, SpanServer, end_span, start_span
from daemon.spans.methods import ListParams, spans_list
from daemon.verbs.method import MethodContext
from daemon.verbs.render import render_result
from daemon.verbs.words import resolve_method

NO_CONTEXT = cast(MethodContext, None)


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


async def _list(**params: Any) -> dict[str, Any]:
    result = await cast(Awaitable[Any], spans_list.handler(ListParams(**params), NO_CONTEXT))
    assert isinstance(result, dict)
    return result


@pytest.mark.usefixtures("spans")
async def test_spans_list_pages_oldest_first_and_filters_by_trace() -> None:
    first = start_span("first")
    end_span(first)  # ended: not listed
    a = start_span("a")
    held = asyncio.Event()

    async def elsewhere() -> None:
        start_span("b")
        await held.wait()

    task = asyncio.create_task(elsewhere(), context=contextvars.Context())  # a trace of its own
    await asyncio.sleep(0)
    listed = await _list()
    assert [s["name"] for s in listed["spans"]] == ["a", "b"]
    assert (listed["total"], listed["next"]) == (2, None)
    one = await _list(limit=1)
    assert ([s["name"] for s in one["spans"]], one["next"]) == (["a"], 1)
    mine = await _list(trace=a.trace_id)
    assert [s["span_id"] for s in mine["spans"]] == [a.span_id]
    assert (await _list(older_than=3600))["spans"] == []
    held.set()
    await task


async def test_spans_list_without_the_span_server_is_not_found() -> None:
    with pytest.raises(ControlError, match="not running"):
        await _list()


def test_spans_list_renders_a_table_for_people() -> None:
    shown = render_result(
        "spans.list",
        {"spans": [{"age": 1.5, "trace_id": "t" * 32, "task": "Task-1", "name": "load"}], "total": 3},
    )
    assert "load" in shown
    assert "Task-1" in shown
    assert "(1 of 3 spans)" in shown
    assert render_result("spans.list", {"spans": [], "total": 0}) == "no spans in flight"


def test_arborctl_spans_is_spans_list_and_takes_its_params_as_options() -> None:
    assert resolve_method(["spans"], {"spans.list"}) == ("spans.list", [])
    assert _param_options(["spans", "--trace", "abc", "--older-than=5", "limit=3"], {"--json"}) == [
        "spans",
        "trace=abc",
        "older_than=5",
        "limit=3",
    ]
